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
