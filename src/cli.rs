//! Every command-line type: the `lsdb` command, its subcommands and their flags (clap derive).
//! The `///` comments are the help text users read.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::export::ExportFormat;
use crate::import::Format;
use crate::output::OutputFormat;
use crate::sample::Strategy;

/// An embedded, SQL-backed store for Label Studio tasks, completions and predictions.
#[derive(Debug, Parser)]
#[command(name = "lsdb", version, about, long_about = None, after_help = "\
Examples:
  lsdb init my-project --template image_bbox
  lsdb -p my-project import tasks.json
  lsdb -p my-project import photos/ --format image-dir
  lsdb -p my-project sql \"SELECT count(*) FROM tasks\"
  lsdb -p my-project shell")]
pub struct Cli {
    /// The project folder; its store is DIR/lsdb.duckdb
    #[arg(
        short,
        long,
        global = true,
        env = "LSDB_PROJECT",
        default_value = ".",
        value_name = "DIR"
    )]
    pub project: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Init(InitArgs),
    Start(StartArgs),
    Import(ImportArgs),
    #[command(subcommand)]
    Config(ConfigCommand),
    Templates(TemplatesArgs),
    Validate(ValidateArgs),
    Sample(SampleArgs),
    Export(ExportArgs),
    Sql(SqlArgs),
    Shell(ShellArgs),
    Stats(StatsArgs),
    Quality(QualityArgs),
    Push(PushArgs),
    Pull(PullArgs),
    Serve(ServeArgs),
    #[command(subcommand)]
    Storage(StorageCommand),
}

/// Flags that choose the label config.
#[derive(Debug, Args, Clone, Default)]
pub struct ConfigChoice {
    /// A label config XML file
    #[arg(short = 'l', long, value_name = "FILE", conflicts_with = "template")]
    pub label_config: Option<PathBuf>,
    /// A built-in label config (see `lsdb templates`)
    #[arg(long, value_name = "NAME")]
    pub template: Option<String>,
}

/// What `init` and `start --init` import at once (Label Studio 0.x's flags).
#[derive(Debug, Args, Clone, Default)]
pub struct InputArgs {
    /// A file or folder to import into the new project
    #[arg(long, value_name = "PATH")]
    pub input_path: Option<PathBuf>,
    /// The format of --input-path (guessed from the path when left out)
    #[arg(long, value_name = "FORMAT", requires = "input_path")]
    pub input_format: Option<Format>,
}

/// Flags that shape an import.
#[derive(Debug, Args, Clone, Default)]
pub struct ImportFlags {
    /// The data key for one-value formats (text lines, URLs, media files)
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// The host in URLs made for local files
    #[arg(long, value_name = "URL", default_value = crate::import::DEFAULT_HOST_URL)]
    pub host_url: String,
    /// Import the good records; keep the bad ones in import_rejects
    #[arg(long)]
    pub skip_invalid: bool,
    /// Leave out tasks whose data is already in the store
    #[arg(long)]
    pub skip_duplicates: bool,
    /// Fail the import when new tasks add rows to validation_errors
    #[arg(long)]
    pub strict: bool,
    /// Label Studio's export of tasks already here: attach its new annotations and
    /// predictions to them (matched by id and data, else by data) instead of adding them
    #[arg(long)]
    pub merge: bool,
    /// Let `lsdb serve` and `lsdb start` serve the local files the tasks reference
    #[arg(long)]
    pub allow_serving_local_files: bool,
    #[command(flatten)]
    pub bucket: BucketFlags,
}

/// Which objects of a bucket to read (s3://, gs://, az:// paths), as Label Studio's cloud
/// storage names its options.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Buckets (s3://, gs://, az://)")]
pub struct BucketFlags {
    /// Read only objects under this prefix (below the URL's own path)
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Read only objects whose whole key matches this regular expression
    #[arg(long, value_name = "REGEX")]
    pub regex_filter: Option<String>,
    /// List every level under the prefix (Label Studio lists one level unless told)
    #[arg(long)]
    pub recursive: bool,
    /// One task per object, its URI as the data, whatever the object is
    #[arg(long)]
    pub use_blob_urls: bool,
    #[command(flatten)]
    pub connect: ConnectFlags,
}

/// How to reach a bucket; anything left out comes from the standard environment
/// (AWS_*, GOOGLE_APPLICATION_CREDENTIALS, STORAGE_EMULATOR_HOST, AZURE_STORAGE_*).
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Bucket connection")]
pub struct ConnectFlags {
    /// An S3-compatible server (MinIO, moto), or a GCS/Azure emulator
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The bucket's region (default: AWS_REGION, else us-east-1)
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    #[arg(long, value_name = "ID")]
    pub aws_access_key_id: Option<String>,
    #[arg(long, value_name = "SECRET")]
    pub aws_secret_access_key: Option<String>,
    #[arg(long, value_name = "TOKEN")]
    pub aws_session_token: Option<String>,
    /// A Google service account key file
    #[arg(long, value_name = "FILE")]
    pub google_application_credentials: Option<String>,
    #[arg(long, value_name = "NAME")]
    pub azure_account_name: Option<String>,
    #[arg(long, value_name = "KEY")]
    pub azure_account_key: Option<String>,
}

impl ConnectFlags {
    pub fn connect(&self) -> crate::bucket::Connect {
        crate::bucket::Connect {
            endpoint_url: self.endpoint_url.clone(),
            region: self.region.clone(),
            access_key_id: self.aws_access_key_id.clone(),
            secret_access_key: self.aws_secret_access_key.clone(),
            session_token: self.aws_session_token.clone(),
            google_application_credentials: self.google_application_credentials.clone(),
            azure_account_name: self.azure_account_name.clone(),
            azure_account_key: self.azure_account_key.clone(),
        }
    }
}

impl BucketFlags {
    pub fn listing(&self, format: Option<Format>) -> crate::bucket::listing::ListOptions {
        crate::bucket::listing::ListOptions {
            prefix: self.prefix.clone(),
            regex_filter: self.regex_filter.clone(),
            recursive: self.recursive,
            use_blob_urls: self.use_blob_urls,
            format,
        }
    }
}

/// Create a project, optionally importing at once (as `label-studio init`).
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  lsdb init my_project --input-path my_tasks.json --input-format json
  lsdb init --input-path=my_tasks.json
  lsdb init my-project --input-path=my_tasks.txt --input-format=text --label-config=config.xml
  lsdb init my-project --input-path=dir/with/images --input-format=image-dir --label-config=config.xml --allow-serving-local-files
  lsdb init my-project --template image_bbox")]
pub struct InitArgs {
    /// The project folder to create (default: -p, or the current folder)
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigChoice,
    #[command(flatten)]
    pub input: InputArgs,
    /// Replace an existing project
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub import: ImportFlags,
}

/// Open a project in the SQL shell; with --init, create and fill it first.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  lsdb start my-project
  lsdb start my-project --init --input-path=path/to/my/images --input-format=image-dir --allow-serving-local-files --template image_bbox
  lsdb start my-project --init --input-path=path/to/my/audios --input-format=audio-dir --allow-serving-local-files --template audio_transcribe")]
pub struct StartArgs {
    /// The project folder (default: -p, or the current folder)
    pub dir: Option<PathBuf>,
    /// Create the project first (replacing nothing: fails if it exists, unless --force)
    #[arg(long)]
    pub init: bool,
    /// With --init: replace an existing project
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub config: ConfigChoice,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub import: ImportFlags,
    #[command(flatten)]
    pub shell: ShellArgs,
    /// Serve the project's local files on this port while the shell is open (the default
    /// 8080 when the project allows serving local files)
    #[arg(long)]
    pub port: Option<u16>,
}

/// Import task files, folders or media files into the project.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  lsdb import tasks.json                      a JSON list of tasks (or one task)
  lsdb import tasks.jsonl
  lsdb import dir/with/json/files --format json-dir
  lsdb import texts.csv                       one task a row, keys from the header
  lsdb import my_tasks.txt --format text --key text
  lsdb import images.txt                      a list of URLs
  lsdb import photos/ --format image-dir --host-url http://localhost:8080
  lsdb import a.jpg b.wav                     one task a file
  lsdb import tasks.json --skip-invalid --skip-duplicates
  lsdb import label-studio-export.json --merge  annotations back onto their tasks")]
pub struct ImportArgs {
    /// Files or folders to import (- reads JSON from standard input)
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The input format (guessed from each path when left out)
    #[arg(short, long, alias = "input-format", value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Set this label config first (same as `lsdb config set FILE`)
    #[arg(short = 'l', long, value_name = "FILE")]
    pub label_config: Option<PathBuf>,
    #[command(flatten)]
    pub import: ImportFlags,
}

/// Buckets as sources: definitions that `lsdb storage sync` imports from, reading only new
/// and changed objects.
#[derive(Debug, Subcommand)]
#[command(after_help = "\
Examples:
  lsdb storage add photos s3://my-bucket/photos/ --format image-dir --recursive
  lsdb storage add tasks gs://my-bucket/tasks/ --regex-filter '.*\\.json'
  lsdb storage add local-s3 s3://b/ --endpoint-url http://127.0.0.1:9000
  lsdb storage list
  lsdb storage sync photos
  lsdb storage sync --prune")]
pub enum StorageCommand {
    /// Define a bucket prefix to import from (checked with one listing)
    Add(Box<StorageAddArgs>),
    /// List the storage definitions (secrets hidden)
    List {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Import new and changed objects of one storage, or of all; report deleted ones
    Sync {
        /// The storage to sync (all when left out)
        name: Option<String>,
        /// Remove the tasks of deleted objects that have no completions
        #[arg(long)]
        prune: bool,
    },
    /// Remove a storage definition (its tasks stay)
    Remove { name: String },
}

/// `lsdb storage add`.
#[derive(Debug, Args)]
pub struct StorageAddArgs {
    /// A name for the storage
    pub name: String,
    /// s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://CONTAINER/PREFIX
    pub url: String,
    /// How to read the objects (by each object's extension when left out)
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// `lsdb serve` streams this storage's objects itself instead of redirecting to
    /// presigned URLs (Label Studio's "presign off": the bucket is never exposed)
    #[arg(long)]
    pub no_presign: bool,
    /// Minutes the presigned URLs `lsdb serve` redirects to for this storage's objects live
    #[arg(long, value_name = "MINUTES", default_value_t = 60)]
    pub presign_ttl: u64,
    #[command(flatten)]
    pub bucket: BucketFlags,
}

/// Read or replace the label config.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the label config XML
    Show,
    /// Replace the label config with FILE; the views follow at once
    Set {
        /// The label config XML file
        file: PathBuf,
    },
    /// Replace the label config with a built-in template
    Template {
        /// The template's name (see `lsdb templates`)
        name: String,
    },
}

/// List the built-in label config templates, or print one.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  lsdb templates\n  lsdb templates image_bbox > config.xml")]
pub struct TemplatesArgs {
    /// The template to print
    pub name: Option<String>,
}

/// Report the rows of validation_errors; exit 1 when there are any.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  lsdb validate\n  lsdb validate --format json --limit 100")]
pub struct ValidateArgs {
    #[command(flatten)]
    pub output: OutputArgs,
    /// Print at most N rows (the summary counts them all)
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: u64,
}

/// Print the labeling queue of a sampling strategy: task ids in order, with their scores.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  lsdb sample --strategy prediction-score-min --limit 20
  lsdb sample --strategy uniform --seed 7 --limit 100 --format csv
  lsdb sample --strategy uncertainty --model-version v2")]
pub struct SampleArgs {
    #[command(flatten)]
    pub sample: SampleFlags,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Flags that pick a sample of tasks.
#[derive(Debug, Args, Clone, Default)]
pub struct SampleFlags {
    /// The sampling strategy (docs/sampling.md)
    #[arg(long, value_name = "STRATEGY", default_value = "sequential", value_parser = Choice(Strategy::parse))]
    pub strategy: Strategy,
    /// At most N tasks
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// The seed of `uniform`
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Use only this model version's predictions
    #[arg(long, value_name = "V")]
    pub model_version: Option<String>,
}

/// Flags that choose the tasks an export or a push takes: a sampling queue, a condition, or
/// all of them in id order.
#[derive(Debug, Args, Clone, Default)]
pub struct SelectionFlags {
    /// Take the queue of this sampling strategy, in its order
    #[arg(long, value_name = "STRATEGY", value_parser = Choice(Strategy::parse))]
    pub sample: Option<Strategy>,
    /// At most N tasks: the top N of the queue, or the first N by id
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// The seed of `uniform`
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Use only this model version's predictions for sampling (and, for a training export
    /// with --source predictions, as its labels)
    #[arg(long, value_name = "V")]
    pub model_version: Option<String>,
    /// A SQL condition on the tasks table (e.g. "id > 100")
    #[arg(long = "where", value_name = "SQL")]
    pub condition: Option<String>,
}

impl SelectionFlags {
    /// The selection these flags make.
    pub fn selection(&self) -> crate::export::Selection {
        crate::export::Selection {
            sample: self.sample.map(|strategy| crate::sample::SampleRequest {
                strategy,
                limit: self.limit,
                seed: self.seed,
                model_version: self.model_version.clone(),
            }),
            limit: self.limit,
            condition: self.condition.clone(),
        }
    }
}

/// Export tasks with their completions and predictions.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  lsdb export -o tasks.json
  lsdb export --format json-min -o labels.json
  lsdb export --sample prediction-score-min --limit 100 -o queue.json
  lsdb export --where \"data->>'lang' = 'en'\" --format jsonl
  lsdb export --format parquet -o out/
  lsdb export --dialect ls0 -o for-label-studio-0.x.json
  lsdb export --url-style ls1 --document-root /data -o for-label-studio-1.x.json
  lsdb export --presign --presign-ttl 1440 -o queue.json
  lsdb export -o s3://my-bucket/queues/queue.json
  lsdb export --format parquet -o s3://my-bucket/lake/project/
  lsdb export --format coco -o coco/
  lsdb export --format yolo --with-images -o yolo/
  lsdb export --format yolo-obb --source predictions --model-version v2 -o pseudo/
  lsdb export --format voc --where \"id <= 1000\" -o voc/")]
pub struct ExportArgs {
    /// Where to write (- for standard output; a folder for parquet and the training formats)
    #[arg(short, long, value_name = "FILE", default_value = "-")]
    pub output: PathBuf,
    /// The export format (docs/export.md)
    #[arg(short, long, value_name = "FORMAT", default_value = "json", value_parser = Choice(ExportFormat::parse))]
    pub format: ExportFormat,
    #[command(flatten)]
    pub selection: SelectionFlags,
    /// Which Label Studio reads a json/jsonl export: ls1 writes human annotations under
    /// `annotations` (Label Studio 1.x), ls0 under `completions` (0.x)
    #[arg(long, value_name = "DIALECT", default_value = "ls1")]
    pub dialect: crate::export::Dialect,
    /// Write the local-file URLs lsdb made at import with this scheme and host instead
    /// (e.g. `http://labels.example:8080`)
    #[arg(long, value_name = "URL")]
    pub host_url: Option<String>,
    /// lsdb keeps `<host>/data/<name>?d=<folder>` (Label Studio 0.x, lsdb serve); ls1 writes
    /// Label Studio 1.x's `<host>/data/local-files/?d=<path under --document-root>`
    #[arg(long, value_name = "STYLE", default_value = "lsdb")]
    pub url_style: crate::export::UrlStyle,
    /// With --url-style ls1: Label Studio's LOCAL_FILES_DOCUMENT_ROOT
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub document_root: std::path::PathBuf,
    /// Write s3://, gs:// and azure-blob:// URIs in task data as presigned HTTPS URLs (in
    /// the exported file only; the store keeps the URIs)
    #[arg(long)]
    pub presign: bool,
    /// Minutes the presigned URLs live (at most 7 days)
    #[arg(long, value_name = "MINUTES", default_value_t = 60)]
    pub presign_ttl: u64,
    /// Sign local-file URLs for an `lsdb serve --token T`: each URL opens its one file
    /// without the token (browsers load media in `<img>`, which sends no header)
    #[arg(long, value_name = "TOKEN", env = "LSDB_SIGN_URLS", hide_env_values = true)]
    pub sign_urls: Option<String>,
    /// Training formats: label with the annotations, or with the predictions (of
    /// --model-version when given) as pseudo-labels
    #[arg(long, value_name = "SOURCE", default_value = "annotations")]
    pub source: crate::export::Source,
    /// coco, yolo, yolo-obb: put the images into DIR/images (local files hard-linked or
    /// copied, bucket objects fetched), as the converter's *_WITH_IMAGES formats do
    #[arg(long)]
    pub with_images: bool,
    #[command(flatten)]
    pub connect: ConnectFlags,
}

/// Run SQL once and print the result.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  lsdb sql \"SELECT count(*) FROM tasks\"
  lsdb sql --format json \"SELECT id, data FROM tasks LIMIT 5\"
  echo \"SELECT * FROM validation_errors\" | lsdb sql -")]
pub struct SqlArgs {
    /// The SQL to run (- reads it from standard input)
    pub query: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The interactive SQL shell (reads statements from standard input when it is not a terminal).
#[derive(Debug, Args, Clone)]
#[command(after_help = "\
Examples:
  lsdb shell
  lsdb shell < queries.sql
  echo \"select count(*) from tasks;\" | lsdb shell --format csv")]
pub struct ShellArgs {
    /// The starting output mode
    #[arg(long = "format", value_name = "FORMAT", default_value = "table")]
    pub mode: OutputFormat,
}

/// Serve the project over HTTP: the local files its task URLs point at (when the project
/// allows it), and Label Studio's health and version routes.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  lsdb serve
  lsdb -p my-project serve --port 8080
  lsdb serve --cors http://localhost:8081 --document-root /data
  lsdb serve --host 0.0.0.0 --token s3cret
  lsdb export --host-url http://this-machine:8080 --sign-urls s3cret -o queue.json")]
pub struct ServeArgs {
    /// The address to listen on (other machines reach it only with --token)
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The port (0: any free port; the first line printed says which)
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Require `Authorization: Token TOKEN` on every route but /health, /api/version and the
    /// Import page (local files also open with the signature `lsdb export --sign-urls`
    /// writes)
    #[arg(long, env = "LSDB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Let web pages of ORIGIN call the server (CORS, preflight included), for a Label
    /// Studio on another port
    #[arg(long, value_name = "ORIGIN")]
    pub cors: Option<String>,
    /// The folder that /data/local-files/?d= paths are relative to (as given to `lsdb export
    /// --document-root`)
    #[arg(long, value_name = "DIR")]
    pub document_root: Option<PathBuf>,
    /// Let the import API fetch `url=` (http/https, up to 200 MB, only from public
    /// addresses, each redirect checked too)
    #[arg(long)]
    pub allow_url_import: bool,
    /// With --allow-url-import: also fetch from private addresses (loopback, 10/8,
    /// 192.168/16, ...), for a server on a trusted network
    #[arg(long, requires = "allow_url_import")]
    pub allow_private_urls: bool,
}

/// Counts: tasks, completions, predictions, invalid rows, imports; and annotations by author
/// and by day.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  lsdb stats\n  lsdb stats --format json\n  lsdb stats --by author --format csv"
)]
pub struct StatsArgs {
    #[command(flatten)]
    pub output: OutputArgs,
    /// Only annotations by author (`completed_by`) or by day (`created_at`), or agreement
    /// per control (Krippendorff's alpha); a table shows the counts and all three when this
    /// is left out (agreement when some task has two annotations)
    #[arg(long, value_name = "author|day|agreement")]
    pub by: Option<crate::report::Breakdown>,
}

/// Label quality: agreement per control (Krippendorff's alpha), per pair of annotators
/// (Cohen's kappa), and the annotations cleanlab's confident learning flags, per control.
/// The same numbers are SQL views (docs/quality.md).
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  lsdb quality
  lsdb quality --show pairs --format csv
  lsdb quality --show issues --format json
  lsdb sample --strategy label-issues --limit 50
  lsdb sql \"SELECT * FROM label_issues ORDER BY self_confidence LIMIT 20\"")]
pub struct QualityArgs {
    #[command(flatten)]
    pub output: OutputArgs,
    /// Only one part: controls (alpha), pairs (kappa) or issues (label issue counts); a
    /// table shows all three when this is left out, csv and json the controls
    #[arg(long, value_name = "controls|pairs|issues")]
    pub show: Option<crate::report::QualityPart>,
}

/// Push tasks into a Label Studio project: the selected tasks with their predictions, each
/// once (the store links every pushed task to its Label Studio task; pushing again sends
/// only what the project lacks). Media go as URLs Label Studio loads, never as bytes.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  lsdb push http://localhost:8080 --token $TOKEN --sample uncertainty --limit 100 \\
      --document-root /data
  lsdb push http://localhost:8080 --ls-project 3 --sample uncertainty --limit 200 --document-root /data
  lsdb push http://localhost:8080 --where \"id <= 50\" --host-url http://localhost:8081
  lsdb push http://localhost:8080 --sample entropy --limit 500 --presign

With --limit N the top N of the queue end up in the project (the ones already there are not
sent again). Credentials: --token, or LABEL_STUDIO_API_KEY; a legacy token or a personal
access token. See docs/labeling-loop.md.")]
pub struct PushArgs {
    /// Label Studio's address
    #[arg(value_name = "URL", env = "LABEL_STUDIO_URL")]
    pub url: String,
    /// Its API token (a legacy token or a personal access token)
    #[arg(long, value_name = "T", env = "LABEL_STUDIO_API_KEY", hide_env_values = true)]
    pub token: String,
    /// Push into this existing Label Studio project (its config must have the store's
    /// controls); without it, a new project is made with the store's label config.
    /// (`--project`/`-p` is lsdb's own project folder, as in every command.)
    #[arg(long, value_name = "ID")]
    pub ls_project: Option<i64>,
    /// The new project's title (default: "lsdb <project folder>")
    #[arg(long, value_name = "NAME", conflicts_with = "ls_project")]
    pub title: Option<String>,
    #[command(flatten)]
    pub selection: SelectionFlags,
    /// Send the tasks' annotations too
    #[arg(long)]
    pub with_annotations: bool,
    /// Label Studio's LOCAL_FILES_DOCUMENT_ROOT: local files go as its local-files URLs, and
    /// push connects a local storage for each folder they are in
    #[arg(long, value_name = "DIR", conflicts_with = "host_url")]
    pub document_root: Option<std::path::PathBuf>,
    /// Local files as URLs of a running `lsdb serve` at this address instead
    #[arg(long, value_name = "URL")]
    pub host_url: Option<String>,
    /// Bucket URIs (s3://, gs://, azure-blob://) as presigned HTTPS URLs; without it they
    /// stay URIs and push connects a Label Studio cloud storage over each bucket (with the
    /// credentials lsdb reaches it with)
    #[arg(long)]
    pub presign: bool,
    /// Minutes presigned URLs live (at most 7 days); also the cloud storages' presign TTL
    #[arg(long, value_name = "MINUTES", default_value_t = 60)]
    pub presign_ttl: u64,
    #[command(flatten)]
    pub connect: ConnectFlags,
}

/// Pull a Label Studio project's annotations onto the tasks `lsdb push` sent there: new ones
/// are added, ones edited there replace the stored ones (the previous kept in
/// completion_history), ones deleted there are reported (--prune deletes them). Pulling
/// twice changes nothing.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  lsdb pull http://localhost:8080 --token $TOKEN --ls-project 4
  lsdb pull http://localhost:8080 --ls-project 4 --prune
  lsdb pull http://localhost:8080 --ls-project 4 --paged

See docs/labeling-loop.md.")]
pub struct PullArgs {
    /// Label Studio's address
    #[arg(value_name = "URL", env = "LABEL_STUDIO_URL")]
    pub url: String,
    /// Its API token (a legacy token or a personal access token)
    #[arg(long, value_name = "T", env = "LABEL_STUDIO_API_KEY", hide_env_values = true)]
    pub token: String,
    /// The Label Studio project to pull from
    #[arg(long, value_name = "ID")]
    pub ls_project: i64,
    /// Delete the completions whose annotations were deleted in Label Studio
    #[arg(long)]
    pub prune: bool,
    /// Read the project's task list page by page instead of Label Studio's export (slower;
    /// for a server whose export times out behind a proxy)
    #[arg(long)]
    pub paged: bool,
}

/// How rows are printed.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// table, csv, json or jsonl
    #[arg(long, value_name = "FORMAT", default_value = "table")]
    pub format: OutputFormat,
    /// Leave out the header row (table and csv)
    #[arg(long)]
    pub no_headers: bool,
}

/// A closed set on the command line (`--strategy`, `--sample`, `export --format`): refused
/// with the message that lists it (the one the shell gives too), while `--help` lists it as
/// possible values.
#[derive(Clone)]
struct Choice<T>(fn(&str) -> anyhow::Result<T>);

impl<T: clap::ValueEnum + Clone + Send + Sync + 'static> clap::builder::TypedValueParser
    for Choice<T>
{
    type Value = T;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        (self.0)(&value.to_string_lossy())
            .map_err(|e| clap::Error::raw(clap::error::ErrorKind::ValueValidation, e.to_string()))
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(T::value_variants().iter().filter_map(clap::ValueEnum::to_possible_value)))
    }
}
