//! The shell: scripted through standard input, each dot command, `lsdb start`, and in a real
//! pseudo-terminal (prompt, tables, errors, multi-line input, Ctrl-C, Ctrl-D, history).

use std::time::{Duration, Instant};

use crate::support::{LSDB, TestEnv};

fn project() -> TestEnv {
    let env = TestEnv::new();
    let config = env.fixture("configs/sampling.xml");
    env.lsdb(&["init", "proj", "-l", config.to_str().unwrap()]).ok();
    let tasks = env.fixture("tasks/sampling.json");
    env.lsdb(&["-p", "proj", "import", tasks.to_str().unwrap()]).ok();
    env
}

#[test]
fn piped_statements_run_without_a_prompt() {
    let env = project();
    let out = env
        .lsdb_stdin(
            &["-p", "proj", "shell", "--format", "csv"],
            "select count(*) AS n from tasks;\n",
        )
        .ok();
    assert_eq!(out, "n\n8\n");
    let out = env
        .lsdb_stdin(
            &["-p", "proj", "shell", "--format", "csv"],
            "-- a comment\nSELECT id\nFROM tasks\nWHERE id < 3\nORDER BY id;\nSELECT 'a;b' AS s",
        )
        .ok();
    assert_eq!(out, "id\n1\n2\ns\na;b\n");
}

#[test]
fn a_failing_statement_reports_and_goes_on_with_exit_1() {
    let env = project();
    let run =
        env.lsdb_stdin(&["-p", "proj", "shell", "--format", "csv"], "selec 1;\nselect 2 AS two;\n");
    let stderr = run.exit(1);
    assert!(
        stderr.starts_with("Error: Parser Error: syntax error at or near \"selec\""),
        "{stderr}"
    );
    assert_eq!(run.stdout(), "two\n2\n");
}

#[test]
fn dot_commands_print_what_they_should() {
    let env = project();
    let script = "\
.tables
.schema imports
.mode json
select 1 as one;
.mode line
select 1 as one, 'x' as two;
.mode csv
.stats
.sample prediction-score-min 2
.validate
.timer on
select 3 as three;
.timer off
.maxrows 2
.mode table
select * from range(5);
.output out.csv
.mode csv
select 4 as four;
.output
.frobnicate
.tabels
.xéz
";
    let run = env.lsdb_stdin(&["-p", "proj", "shell"], script);
    let stderr = run.exit(1);
    let out = run.stdout();
    assert!(out.contains("│ tasks ") && out.contains("│ validation_errors "), "{out}");
    assert!(out.contains("CREATE TABLE imports("), "{out}");
    assert!(out.contains("[\n{\"one\":1}\n]\n"), "{out}");
    assert!(out.contains("one = 1\ntwo = x\n"), "{out}");
    assert!(
        out.contains(
            "tasks,completions,predictions,invalid_tasks,validation_errors,rejected,imports\n8,2,7,"
        ),
        "{out}"
    );
    assert!(out.contains("position,task_id,score\n1,7,0.2\n2,2,0.5\n"), "{out}");
    assert!(out.contains("code,rows,tasks\n"), "{out}");
    assert!(out.contains("three\n3\nRun Time: "), "{out}");
    assert!(out.contains("2 rows shown (more not fetched; see .maxrows)"), "{out}");
    assert!(!out.contains("four"), "{out}");
    assert_eq!(std::fs::read_to_string(env.path("out.csv")).unwrap(), "four\n4\n");
    assert!(stderr.contains("unknown command .frobnicate; .help lists the commands"), "{stderr}");
    assert!(stderr.contains("unknown command .tabels; did you mean .tables?"), "{stderr}");
    assert!(stderr.contains("unknown command .xéz; .help lists the commands"), "{stderr}");
}

#[test]
fn help_import_export_read_and_quit() {
    let env = project();
    let texts = env.fixture("tasks/texts.csv");
    env.write("more.sql", "select count(*) AS n from tasks;\n");
    let script = format!(
        ".help\n.import {} csv\n.export all.jsonl jsonl\n.mode csv\n.read more.sql\n.quit\nselect 'never' AS s;\n",
        texts.display()
    );
    let out = env.lsdb_stdin(&["-p", "proj", "shell"], &script).ok();
    assert!(out.contains(".import PATH [FORMAT]"), "{out}");
    assert!(out.contains("imported 2 tasks"), "{out}");
    assert!(out.contains("n\n10\n"), "{out}");
    assert!(!out.contains("never"), "{out}");
    assert_eq!(std::fs::read_to_string(env.path("all.jsonl")).unwrap().lines().count(), 10);
}

// The seed: `label-studio start my-project --init --input-path=path/to/my/images
// --input-format=image-dir --allow-serving-local-files --template image_bbox`
#[test]
fn seed_start_command_lines() {
    let env = TestEnv::new();
    let images = env.fixture("dirs/images");
    let audios = env.fixture("dirs/audios");
    let cases =
        [(images, "image-dir", "image_bbox", 4), (audios, "audio-dir", "audio_transcribe", 3)];
    for (i, (dir, format, template, n)) in cases.into_iter().enumerate() {
        let project = format!("my-project-{i}");
        let input = format!("--input-path={}", dir.display());
        let format = format!("--input-format={format}");
        let args = [
            "start",
            &project,
            "--init",
            &input,
            &format,
            "--allow-serving-local-files",
            "--template",
            template,
        ];
        let out = env.lsdb_stdin(&args, "select count(*) AS n from tasks;\n.validate\n").ok();
        assert!(out.contains(&format!("imported {n} tasks")), "{out}");
        assert!(out.contains(&format!("│ {n} │")), "{out}");
    }
    env.lsdb(&["start", "missing"])
        .fails_with("no lsdb project at missing; create it with `lsdb start missing --init`");
}

/// Wait for the prompt, then a moment: rustyline asks the terminal for the cursor position
/// when a prompt appears, and keys typed before it gives up on the answer would be eaten.
fn prompt(p: &mut rexpect::session::PtySession) -> Result<(), rexpect::error::Error> {
    p.exp_string("proj> ")?;
    std::thread::sleep(Duration::from_millis(250));
    Ok(())
}

fn spawn_shell(env: &TestEnv) -> rexpect::session::PtySession {
    let mut cmd = std::process::Command::new(LSDB);
    cmd.args(["-p", "proj", "shell"]).current_dir(env.dir.path()).env("TERM", "xterm");
    let options =
        rexpect::reader::Options::new().timeout_ms(Some(10_000)).strip_ansi_escape_codes(true);
    rexpect::session::spawn_with_options(cmd, options).expect("spawn lsdb shell in a pty")
}

#[test]
fn terminal_session_tables_errors_multiline_and_ctrl_d() -> Result<(), rexpect::error::Error> {
    let env = project();
    let mut p = spawn_shell(&env);
    prompt(&mut p)?;
    p.send_line("select 42 as answer;")?;
    p.exp_string("answer")?;
    p.exp_string("42")?;
    p.exp_string("1 row")?;
    prompt(&mut p)?;
    p.send_line("selec 1;")?;
    p.exp_string("Error: Parser Error")?;
    prompt(&mut p)?;
    p.send_line("select")?;
    p.exp_string("...> ")?;
    p.send_line("7 as seven;")?;
    p.exp_string("seven")?;
    p.exp_string("1 row")?;
    prompt(&mut p)?;
    p.send_control('c')?;
    prompt(&mut p)?;
    p.send_control('d')?;
    p.exp_eof()?;
    let status = p.process().wait()?;
    assert!(matches!(status, rexpect::process::WaitStatus::Exited(_, 0)), "{status:?}");
    Ok(())
}

#[test]
fn terminal_ctrl_c_cancels_a_long_query() -> Result<(), rexpect::error::Error> {
    let env = project();
    let mut p = spawn_shell(&env);
    prompt(&mut p)?;
    p.send_line("SELECT count(*) FROM range(100000000) a, range(100000000) b;")?;
    std::thread::sleep(Duration::from_millis(700));
    let sent = Instant::now();
    p.send_control('c')?;
    p.exp_string("Error: INTERRUPT")?;
    prompt(&mut p)?;
    assert!(sent.elapsed() < Duration::from_secs(2), "took {:?}", sent.elapsed());
    p.send_line("select 1 as still_here;")?;
    p.exp_string("still_here")?;
    p.exp_string("1 row")?;
    prompt(&mut p)?;
    p.send_line(".quit")?;
    p.exp_eof()?;
    Ok(())
}

#[test]
fn terminal_history_survives_a_restart() -> Result<(), rexpect::error::Error> {
    let env = project();
    let mut p = spawn_shell(&env);
    prompt(&mut p)?;
    p.send_line("select 'remembered' as h;")?;
    p.exp_string("1 row")?; // the echo holds "remembered" too; "1 row" is the result
    prompt(&mut p)?;
    p.send_control('d')?;
    p.exp_eof()?;
    let history = std::fs::read_to_string(env.path("proj/.lsdb_history")).unwrap();
    assert!(history.contains("select 'remembered' as h;"), "{history}");
    let mut p = spawn_shell(&env);
    prompt(&mut p)?;
    p.send("\x1b[A")?; // up arrow: the last statement
    p.flush()?;
    std::thread::sleep(Duration::from_millis(200));
    p.exp_string("remembered")?; // the recalled line
    p.send("\r")?;
    p.flush()?;
    p.exp_string("1 row")?;
    prompt(&mut p)?;
    p.send_control('d')?;
    p.exp_eof()?;
    Ok(())
}

#[test]
fn terminal_tab_completes_tables() -> Result<(), rexpect::error::Error> {
    let env = project();
    let mut p = spawn_shell(&env);
    prompt(&mut p)?;
    p.send("select count(*) as c from validation_er\t")?;
    p.flush()?;
    p.exp_string("validation_errors")?;
    p.send(";\r")?;
    p.flush()?;
    p.exp_string("c")?;
    p.exp_string("1 row")?;
    prompt(&mut p)?;
    p.send_control('d')?;
    p.exp_eof()?;
    Ok(())
}

// issue 9: Ctrl-C during `.import` and `.export` returns to the prompt, store and files unchanged.
#[test]
fn terminal_ctrl_c_cancels_import_and_export() -> Result<(), rexpect::error::Error> {
    let env = project();
    let before = env.counts();
    env.write_task_list("big.json", 300_000, "big", false);
    let mut p = spawn_shell(&env);
    prompt(&mut p)?;
    p.send_line(".import big.json")?;
    std::thread::sleep(Duration::from_millis(400));
    p.send_control('c')?;
    p.exp_string("interrupted (Ctrl-C); nothing was changed")?;
    prompt(&mut p)?;
    p.send_line("select count(*) as n from tasks;")?;
    p.exp_string("1 row")?;
    prompt(&mut p)?;
    p.send_line(".quit")?;
    p.exp_eof()?;
    assert_eq!(env.counts(), before);
    // A big store, then an export stopped half way leaves no file.
    env.lsdb(&["-p", "proj", "import", "big.json"]).ok();
    let mut p = spawn_shell(&env);
    prompt(&mut p)?;
    p.send_line(".export out.json")?;
    std::thread::sleep(Duration::from_millis(300));
    p.send_control('c')?;
    p.exp_string("nterrupt")?;
    prompt(&mut p)?;
    p.send_line(".quit")?;
    p.exp_eof()?;
    let names: Vec<String> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("out"))
        .collect();
    assert!(names.is_empty(), "an interrupted .export left {names:?}");
    Ok(())
}

// issue 9: `.export` wrote in place; two formats shared one temp name.
#[test]
fn dot_export_writes_whole_files_only() {
    let env = project();
    env.write("a.json", "old");
    let script = ".export a.json\n.export a.csv csv\n.export a.json nope\n";
    let run = env.lsdb_stdin(&["-p", "proj", "shell"], script);
    assert!(run.stderr().contains("unknown export format \"nope\""), "{}", run.stderr());
    let json = std::fs::read_to_string(env.path("a.json")).unwrap();
    assert!(json.starts_with("[\n{\"id\":"), "{json}");
    let csv = std::fs::read_to_string(env.path("a.csv")).unwrap();
    assert!(
        csv.starts_with("\"annotation_id\",\"annotator\",\"class\",\"created_at\",\"id\","),
        "{csv}"
    );
    let partial = std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains("partial"))
        .count();
    assert_eq!(partial, 0);
}

// issue 9: a closed pipe (`lsdb shell < q.sql | head -1`) ends quietly with exit 0.
#[test]
fn a_closed_pipe_ends_the_shell_quietly() {
    let env = project();
    let mut child = env
        .command(&["-p", "proj", "shell", "--format", "csv"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    drop(child.stdout.take()); // the reader is gone before anything is written
    use std::io::Write;
    stdin.write_all(b"SELECT * FROM range(100000);\nSELECT 1;\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
