use crate::harness::{check, dqgate, fixture};

#[test]
fn the_shipped_rule_files_are_valid() {
    for rules in [
        "rules/movies.toml",
        "rules/tmdb_5000.toml",
        "tests/fixtures/hostile/rules.toml",
    ] {
        let output = dqgate().args(["rules", "check", rules]).output().unwrap();
        assert!(
            output.status.success(),
            "{rules}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains(": ok ("));
    }
}

#[test]
fn a_bad_rule_file_lists_every_error_with_its_position_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("bad.toml");
    std::fs::write(
        &rules,
        r#"[columns.id]
type = "integer"
minimum = 1

[columns.code]
pattern = "(["

[[rules]]
name = "uses_a_ghost"
expr = "ghost > 1"
"#,
    )
    .unwrap();
    let run = check(&fixture("movies_sample.csv"), rules.to_str().unwrap(), &[]);
    assert_eq!(run.code, 2);
    let shown = rules.display().to_string();
    for expected in [
        format!("rule file {shown} has 3 errors:"),
        format!("{shown}:3:1: unknown field `minimum`"),
        format!("{shown}:6:11: column `code`: invalid pattern"),
        format!(
            "{shown}:10:9: in rule `uses_a_ghost`: no column named 'ghost' is declared in [columns]"
        ),
    ] {
        assert!(
            run.stderr.contains(&expected),
            "missing {expected:?} in:\n{}",
            run.stderr
        );
    }
    assert!(
        !run.out_path().join("report.json").exists(),
        "no report for an unusable rule file"
    );
}

#[test]
fn a_missing_rule_file_exits_2() {
    let run = check(&fixture("movies_sample.csv"), "rules/nope.toml", &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cannot read rule file rules/nope.toml"),
        "{}",
        run.stderr
    );
}

#[test]
fn rules_explain_lists_every_compiled_rule_and_aggregate() {
    let output = dqgate()
        .args(["rules", "explain", "rules/movies.toml"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    crate::harness::snapshots().bind(|| insta::assert_snapshot!("rules_explain_movies", text));
}

#[test]
fn completions_and_the_man_page_are_generated_from_the_command_line() {
    for shell in ["bash", "zsh", "fish"] {
        let output = dqgate().args(["completions", shell]).output().unwrap();
        assert!(output.status.success(), "{shell}");
        let script = String::from_utf8(output.stdout).unwrap();
        assert!(
            script.contains("dqgate") && script.contains("history"),
            "{shell}: {script}"
        );
    }
    let man = dqgate().arg("man").output().unwrap();
    assert!(man.status.success());
    let page = String::from_utf8(man.stdout).unwrap();
    assert!(
        page.starts_with(".ie") && page.contains(".TH dqgate 1"),
        "{page}"
    );
    assert!(page.contains("promote"), "the subcommands are described");
}

/// Runs `dqgate init FILE`, writes the rules next to a temporary output
/// folder, and checks FILE against them.
fn init_then_check(file: &str) -> (String, crate::harness::Run) {
    let output = dqgate().args(["init", file]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("init.toml");
    std::fs::write(&rules, &text).unwrap();
    let run = check(file, rules.to_str().unwrap(), &[]);
    (text, run)
}

#[test]
fn init_writes_rules_that_pass_on_the_profiled_sample() {
    for name in [
        "tmdb_5000_sample.csv",
        "movies_sample.csv",
        "movies_crlf.csv",
    ] {
        let (_, run) = init_then_check(&fixture(name));
        assert_eq!(run.code, 0, "{name}: {}", run.stdout);
        assert_eq!(
            run.report()["rows"]["quarantined"],
            0,
            "{name}: {}",
            run.stdout
        );
    }
    let (text, _) = init_then_check(&fixture("tmdb_5000_sample.csv"));
    crate::harness::snapshots().bind(|| insta::assert_snapshot!("init_tmdb_5000_sample", text));
}

#[test]
#[ignore = "needs the real data in ../shared/data: run cargo test -- --include-ignored, as .ci/run does"]
fn init_on_the_full_tmdb_5000_file_passes_its_own_check() {
    let path = crate::harness::shared_data("tmdb_5000_movies.csv");
    let (_, run) = init_then_check(path.to_str().unwrap());
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.report()["rows"]["in"], 4803);
    assert_eq!(run.report()["rows"]["quarantined"], 0);
}

#[test]
fn init_of_an_empty_file_is_an_error() {
    let output = dqgate()
        .args(["init", "tests/fixtures/hostile/empty.csv"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is empty: it has no header row"));
}

#[test]
fn man_writes_a_page_for_every_command_it_refers_to() {
    let dir = tempfile::tempdir().unwrap();
    let status = dqgate()
        .args(["man", "--out"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let top = std::fs::read_to_string(dir.path().join("dqgate.1")).unwrap();
    for command in [
        "check", "diff", "run", "history", "export", "grants", "init",
    ] {
        let page = dir.path().join(format!("dqgate-{command}.1"));
        assert!(page.exists(), "no page for {command}");
        assert!(
            top.contains(&format!("dqgate\\-{command}(1)")),
            "the top page names {command}"
        );
    }
    assert!(dir.path().join("dqgate-rules-check.1").exists());
}

#[test]
fn the_model_init_writes_loads_the_profiled_file_into_a_store() {
    let file = fixture("tmdb_5000_sample.csv");
    let (text, _) = init_then_check(&file);
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("init.toml");
    std::fs::write(&rules, &text).unwrap();
    let store = format!("sqlite://{}", dir.path().join("store.db").display());
    let run = crate::harness::run("run", &file, rules.to_str().unwrap(), &["--store", &store]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.report();
    assert_eq!(report["promotion"]["status"], "promoted");
    assert_eq!(report["promotion"]["applied"]["new_records"], 82);
    let staged: Vec<(String, u64)> = report["diff"]["staged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap().to_owned(),
                t["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(staged[0], ("tmdb_5000_sample".to_owned(), 82));
    assert!(
        staged
            .iter()
            .any(|(t, n)| t == "tmdb_5000_sample_keywords" && *n > 82)
    );
    assert!(
        run.stdout.contains(
            "no reference figures were compared: the rule file declares no [[aggregates]]"
        ),
        "{}",
        run.stdout
    );
}

/// rules/movies.toml with `[columns.homepage]` misspelt.
fn misspelt_rules(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(crate::harness::root().join("rules/movies.toml"))
        .unwrap()
        .replace("[columns.homepage]", "[columns.hompage]");
    let path = dir.join("movies.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::create_dir(dir.join("queries")).unwrap();
    for entry in std::fs::read_dir(crate::harness::root().join("rules/queries")).unwrap() {
        let query = entry.unwrap().path();
        if query.is_file() {
            std::fs::copy(&query, dir.join("queries").join(query.file_name().unwrap())).unwrap();
        }
    }
    path
}

#[test]
fn a_column_misspelt_in_the_rules_is_a_rule_file_error_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let rules = misspelt_rules(dir.path());
    let run = check(&fixture("movies_sample.csv"), rules.to_str().unwrap(), &[]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("column `hompage` is not in the header; did you mean `homepage`?"),
        "{}",
        run.stderr
    );
    assert!(
        !run.out_path().join("quarantine.csv").exists(),
        "nothing is checked or written"
    );

    let header = crate::harness::dqgate()
        .args(["rules", "check"])
        .arg(&rules)
        .arg("--header")
        .arg(fixture("movies_sample.csv"))
        .output()
        .unwrap();
    assert_eq!(header.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&header.stderr).contains("did you mean `homepage`?"));

    let fits = crate::harness::dqgate()
        .args(["rules", "check", "rules/tmdb_5000.toml", "--header"])
        .arg(fixture("tmdb_5000_sample.csv"))
        .output()
        .unwrap();
    assert_eq!(fits.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&fits.stdout).contains("the header has every required column"));
    let lacks = crate::harness::dqgate()
        .args(["rules", "check", "rules/movies.toml", "--header"])
        .arg(fixture("movies_6col.csv"))
        .output()
        .unwrap();
    assert_eq!(lacks.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&lacks.stdout).contains("the header lacks required columns"));
}

#[test]
fn every_unknown_name_and_one_error_per_misspelt_key() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("r.toml");
    std::fs::write(
        &rules,
        "[columns.id]\ntype = \"integer\"\nrequird = true\n\n\
         [columns.vote_count]\ntype = \"integer\"\n\n\
         [[rules]]\nname = \"r\"\nexpr = \"id > 0 and vote_cont > 1 and nonsense == 2\"\n",
    )
    .unwrap();
    let out = crate::harness::dqgate()
        .args(["rules", "check"])
        .arg(&rules)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("has 3 errors"), "{stderr}");
    assert!(stderr.contains("unknown field `requird`"), "{stderr}");
    assert!(stderr.contains("did you mean `required`?"), "{stderr}");
    assert!(
        stderr.contains(
            "no column named 'vote_cont' is declared in [columns]; did you mean 'vote_count'?"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("no column named 'nonsense'"), "{stderr}");
    assert!(
        !stderr.contains("'id'"),
        "the misspelt key of `id` is reported once: {stderr}"
    );
}

#[test]
fn rules_store_and_outputs_come_from_the_nearest_project_file() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("feed");
    let nested = project.join("incoming/2026-11");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::create_dir_all(project.join("rules")).unwrap();
    std::fs::copy(
        crate::harness::root().join("rules/nyc_weather.toml"),
        project.join("rules/weather.toml"),
    )
    .unwrap();
    let queries = project.join("rules/queries/nyc_weather");
    std::fs::create_dir_all(&queries).unwrap();
    for name in ["origin_day.sql", "origin_month.sql"] {
        std::fs::copy(
            crate::harness::root()
                .join("rules/queries/nyc_weather")
                .join(name),
            queries.join(name),
        )
        .unwrap();
    }
    std::fs::write(
        project.join("dqgate.toml"),
        "rules = \"rules/weather.toml\"\nstore = \"sqlite://weather.db\"\nout = \"reports\"\n",
    )
    .unwrap();
    std::fs::copy(
        fixture("weather/weather_sample.csv"),
        nested.join("weather.csv"),
    )
    .unwrap();

    let run = crate::harness::dqgate()
        .args(["run", "weather.csv"])
        .current_dir(&nested)
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        project.join("weather.db").is_file(),
        "the store is the project's"
    );
    assert!(
        project.join("reports/report.json").is_file(),
        "outputs go where it says"
    );

    // Nothing names a rule file: the error says where dqgate looked.
    let bare = dir.path().join("elsewhere");
    std::fs::create_dir_all(&bare).unwrap();
    let lost = crate::harness::dqgate()
        .args(["check", "x.csv"])
        .env_remove("DQGATE_RULES")
        .current_dir(&bare)
        .output()
        .unwrap();
    assert_eq!(lost.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&lost.stderr);
    assert!(
        stderr.contains("no rule file: give --rules FILE, set DQGATE_RULES"),
        "{stderr}"
    );
    assert!(stderr.contains(&bare.display().to_string()), "{stderr}");
    assert!(stderr.contains("dqgate init"), "{stderr}");

    // DQGATE_RULES names one.
    let named = crate::harness::dqgate()
        .args(["rules", "check"])
        .env(
            "DQGATE_RULES",
            crate::harness::root().join("rules/tmdb_5000.toml"),
        )
        .current_dir(&bare)
        .output()
        .unwrap();
    assert_eq!(named.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&named.stdout).contains("tmdb_5000.toml: ok"));
}

#[test]
fn init_proposes_the_type_most_values_fit_and_says_what_breaks_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,popularity,released\n");
    for i in 1..=300 {
        let id = if i == 150 {
            "8/20/97".to_owned()
        } else {
            i.to_string()
        };
        let popularity = if i == 7 {
            "Beware".to_owned()
        } else {
            format!("{i}.5")
        };
        csv.push_str(&format!(
            "{id},{popularity},{}/{}/19{}\n",
            i % 12 + 1,
            i % 28 + 1,
            50 + i % 40
        ));
    }
    let data = dir.path().join("sample.csv");
    std::fs::write(&data, csv).unwrap();
    let (text, run) = init_then_check(data.to_str().unwrap());
    assert!(
        text.contains("# 299 of 300 values are integers; 1 is not and will be quarantined, e.g. line 151: \"8/20/97\"\ntype = \"integer\""),
        "{text}"
    );
    assert!(
        text.contains("# 299 of 300 values are numbers; 1 is not"),
        "{text}"
    );
    assert!(text.contains("formats = [\"%m/%d/%Y\"]"), "{text}");
    // The two values that break their types are quarantined, within the
    // 1% limit init writes.
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.report()["rows"]["quarantined"], 2);
}

#[test]
fn init_finds_the_delimiter_of_a_tsv_and_reads_a_compressed_file() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let tsv = dir.path().join("people.tsv.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"id\tname\tcity\n1\tAda\tLondon\n2\tAlan\tWilmslow\n3\tGrace\tNew York, NY\n")
        .unwrap();
    std::fs::write(&tsv, gz.finish().unwrap()).unwrap();
    let (text, run) = init_then_check(tsv.to_str().unwrap());
    assert!(text.contains("delimiter = \"\\t\""), "{text}");
    assert!(text.contains("[columns.city]"), "{text}");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.report()["rows"]["accepted"], 3);
}
