//! Sampling strategies on a fixture with known scores: exact orders, ties, the queue leaving
//! out completed and skipped tasks, unpredicted tasks last, seeds and model versions.

use crate::support::TestEnv;

fn project() -> TestEnv {
    let env = TestEnv::new();
    let config = env.fixture("configs/sampling.xml");
    env.lsdb(&["init", "proj", "-l", config.to_str().unwrap()]).ok();
    let tasks = env.fixture("tasks/sampling.json");
    env.lsdb(&["-p", "proj", "import", tasks.to_str().unwrap()]).ok();
    env
}

fn order(env: &TestEnv, extra: &[&str]) -> Vec<i64> {
    let mut args = vec!["-p", "proj", "sample", "--format", "json"];
    args.extend_from_slice(extra);
    let out = env.lsdb(&args).ok();
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    rows.as_array().unwrap().iter().map(|r| r["task_id"].as_i64().unwrap()).collect()
}

#[test]
fn each_strategy_gives_its_exact_order() {
    let env = project();
    let cases: &[(&str, &[i64])] = &[
        ("sequential", &[1, 2, 4, 5, 6, 7]),
        ("prediction-score-min", &[7, 2, 5, 1, 4, 6]),
        ("prediction-score-max", &[1, 2, 5, 7, 4, 6]),
        ("uncertainty", &[2, 5, 7, 1, 4, 6]),
        ("margin", &[7, 2, 5, 1, 4, 6]),
        ("entropy", &[2, 5, 1, 7, 4, 6]),
        ("disagreement", &[2, 1, 4, 5, 6, 7]),
    ];
    for (strategy, expected) in cases {
        assert_eq!(order(&env, &["--strategy", strategy]), *expected, "{strategy}");
    }
}

#[test]
fn model_version_filters_the_scores() {
    let env = project();
    assert_eq!(
        order(&env, &["--strategy", "prediction-score-min", "--model-version", "v1"]),
        [7, 2, 1, 4, 5, 6]
    );
    assert_eq!(
        order(&env, &["--strategy", "prediction-score-min", "--model-version", "v2"]),
        [5, 2, 1, 4, 6, 7]
    );
}

#[test]
fn uniform_is_reproducible_by_seed() {
    let env = project();
    let a = order(&env, &["--strategy", "uniform", "--seed", "1"]);
    let b = order(&env, &["--strategy", "uniform", "--seed", "1"]);
    let c = order(&env, &["--strategy", "uniform", "--seed", "2"]);
    assert_eq!(a, b);
    assert_ne!(a, c);
    let mut sorted = c.clone();
    sorted.sort();
    assert_eq!(sorted, [1, 2, 4, 5, 6, 7]);
}

#[test]
fn limit_and_scores_are_printed() {
    let env = project();
    let out = env
        .lsdb(&[
            "-p",
            "proj",
            "sample",
            "--strategy",
            "prediction-score-max",
            "--limit",
            "2",
            "--format",
            "csv",
        ])
        .ok();
    assert_eq!(out, "position,task_id,score\n1,1,0.9\n2,2,0.5\n");
}

#[test]
fn an_unknown_strategy_lists_the_known_ones() {
    let env = project();
    env.lsdb(&["-p", "proj", "sample", "--strategy", "smart"])
        .fails_with("unknown sampling strategy \"smart\"; choose one of sequential, uniform");
}

#[test]
fn the_ranking_view_orders_predictions_per_task() {
    let env = project();
    let rows = env.query("SELECT prediction_id, rank, task_mean_score FROM prediction_ranks WHERE task_id = 2 ORDER BY rank");
    assert_eq!(
        rows,
        serde_json::json!([{"prediction_id": 3, "rank": 1, "task_mean_score": 0.5}, {"prediction_id": 2, "rank": 2, "task_mean_score": 0.5}])
    );
}
