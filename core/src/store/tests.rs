//! Unit tests of the sled progress store.

use super::*;
fn summary(run_id: u64) -> RunSummary {
    RunSummary {
        tenant: "t".into(),
        run_id,
        started_at: Utc::now(),
        finished_at: Utc::now(),
        outcome: crate::model::Outcome::Ok,
        counts: Counts::default(),
        failures: vec![],
        excluded: Vec::new(),
        review: None,
        error: None,
        cause: None,
        pages: 1,
        traffic: Default::default(),
    }
}

#[test]
fn cursor_moves_forward_one_page_at_a_time() {
    let store = Store::temporary().unwrap();
    let t = store.tenant("t").unwrap();
    let c = t.begin_run(Utc::now()).unwrap();
    assert_eq!((c.run_id, c.pages_committed), (1, 0));
    let counts = Counts {
        created: 3,
        ..Counts::default()
    };
    t.commit_page(1, 1, &counts, &[], &[]).unwrap();
    // Replaying page 1, skipping to page 3, or committing another run: refused.
    assert!(matches!(
        t.commit_page(1, 1, &counts, &[], &[]),
        Err(StoreError::CursorRegression { .. })
    ));
    assert!(matches!(
        t.commit_page(1, 3, &counts, &[], &[]),
        Err(StoreError::CursorRegression { .. })
    ));
    assert!(matches!(
        t.commit_page(2, 1, &counts, &[], &[]),
        Err(StoreError::CursorRegression { .. })
    ));
    let c = t.commit_page(1, 2, &counts, &[], &[]).unwrap();
    assert_eq!(c.counts.created, 6);
    // An incomplete run is resumed, not restarted.
    assert_eq!(t.begin_run(Utc::now()).unwrap().pages_committed, 2);
    t.finish_run(&summary(1)).unwrap();
    // A stale writer's page of the closed run is dropped, not an error.
    assert!(matches!(
        t.commit_page(1, 3, &counts, &[], &[]),
        Err(StoreError::RunClosed { .. })
    ));
    let c = t.begin_run(Utc::now()).unwrap();
    assert_eq!((c.run_id, c.pages_committed), (2, 0));
    assert_eq!(t.runs(10).unwrap()[0].run_id, 1);
}

#[test]
fn staging_belongs_to_one_run_and_commits_at_once() {
    let store = Store::temporary().unwrap();
    let t = store.tenant("t").unwrap();
    let s = |app: &str| EmployeeState {
        app_id: app.into(),
        hash: "h".into(),
        active: true,
        manager: None,
        user: None,
        applied_at: Utc::now(),
    };
    t.begin_staging(1).unwrap();
    t.stage_employee("E1", &s("E1")).unwrap();
    t.add_pending_deactivation("E9", "terminated in UKG").unwrap();
    // The same run resumed keeps its staging; nothing is applied yet.
    t.begin_staging(1).unwrap();
    assert_eq!(t.staged().unwrap().len(), 1);
    assert_eq!(t.employee("E1").unwrap(), None);
    // Another run drops what an unfinished run staged.
    t.begin_staging(2).unwrap();
    assert!(t.staged().unwrap().is_empty());
    assert!(t.pending_deactivations().unwrap().is_empty());

    t.stage_employee("E2", &s("E2")).unwrap();
    t.add_pending_deactivation("E3", "absent from the UKG roster").unwrap();
    let held = Held {
        run_id: 2,
        reason: "r".into(),
        deactivations: vec![],
    };
    let e2 = s("E2");
    t.commit_staged(&StagedCommit {
        applied: vec![("E2".into(), e2.clone())],
        staged: vec!["E2".into()],
        deactivations: vec!["E3".into()],
        held: Some(held.clone()),
    })
    .unwrap();
    assert_eq!(t.employee("E2").unwrap(), Some(e2));
    assert!(t.staged().unwrap().is_empty());
    assert!(t.pending_deactivations().unwrap().is_empty());
    assert_eq!(t.held().unwrap(), Some(held));
}

#[test]
fn tenants_are_separate_and_generations_grow() {
    let store = Store::temporary().unwrap();
    let a = store.tenant("a").unwrap();
    let b = store.tenant("b").unwrap();
    let ab = store.tenant("ab").unwrap();
    let s = EmployeeState {
        app_id: "x".into(),
        hash: "h".into(),
        active: true,
        manager: None,
        user: None,
        applied_at: Utc::now(),
    };
    a.put_employee("E1", &s).unwrap();
    a.put_employee(
        "E2",
        &EmployeeState {
            active: false,
            ..s.clone()
        },
    )
    .unwrap();
    assert_eq!(a.active_employees().unwrap(), ["E1"]);
    assert_eq!(a.employee("E1").unwrap(), Some(s));
    assert_eq!(b.employee("E1").unwrap(), None);
    assert_eq!((ab.employee("E1").unwrap(), ab.employee_count()), (None, 0));
    assert_eq!((a.employee_count(), ab.active_employees().unwrap().len()), (2, 0));
    assert_eq!(a.next_generation().unwrap(), 1);
    assert_eq!(a.next_generation().unwrap(), 2);
    assert_eq!(b.next_generation().unwrap(), 1);
}

#[test]
fn per_kind_trees_of_the_former_layout_are_moved_into_the_tenants_tree() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let state = EmployeeState {
        app_id: "u-1".into(),
        hash: "h".into(),
        active: true,
        manager: None,
        user: None,
        applied_at: Utc::now(),
    };
    db.open_tree("acme/employees")
        .unwrap()
        .insert("E1", encode(&state))
        .unwrap();
    db.open_tree("acme/runs")
        .unwrap()
        .insert(7u64.to_be_bytes(), encode(&summary(7)))
        .unwrap();
    db.open_tree("acme/mail")
        .unwrap()
        .insert(FAILING, b"1".as_slice())
        .unwrap();
    db.open_tree("globex/meta")
        .unwrap()
        .insert(ROSTER_SIZE, encode(&42u64))
        .unwrap();

    let store = Store::from_db(db).unwrap();
    let acme = store.tenant("acme").unwrap();
    assert_eq!(acme.employee("E1").unwrap(), Some(state));
    assert_eq!(acme.runs(10).unwrap()[0].run_id, 7);
    assert!(acme.failing_reported().unwrap());
    assert_eq!(acme.last_roster_size().unwrap(), None);
    assert_eq!(store.tenant("globex").unwrap().last_roster_size().unwrap(), Some(42));
    let names: Vec<String> = store
        .shared
        .db()
        .unwrap()
        .tree_names()
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains('/')), "old trees dropped: {names:?}");
    assert!(names.contains(&"acme".to_string()) && names.contains(&"globex".to_string()));
    // Opening again finds nothing left to move.
    let again = Store::from_db(store.shared.db().unwrap()).unwrap();
    assert_eq!(again.tenant("acme").unwrap().employee_count(), 1);
}

#[test]
fn writes_are_counted_as_recorded_and_belong_to_their_run() {
    let store = Store::temporary().unwrap();
    let t = store.tenant("t").unwrap();
    let state = EmployeeState {
        app_id: "u".into(),
        hash: "h".into(),
        active: true,
        manager: None,
        user: None,
        applied_at: Utc::now(),
    };
    let created = Counts {
        created: 1,
        ..Counts::default()
    };
    t.begin_run(Utc::now()).unwrap();
    t.record_applied("E1", &state, 1, &created).unwrap();
    t.record_applied("E2", &state, 1, &created).unwrap();
    // Outside a run: the state only.
    t.record_applied("E3", &state, 0, &created).unwrap();
    assert_eq!(t.employee_count(), 3);
    // A page adds what it read; the writes recorded before (by this process or a killed
    // one) stay counted.
    let page = Counts {
        read: 10,
        unchanged: 7,
        ..Counts::default()
    };
    let c = t.commit_page(1, 1, &page, &[], &[]).unwrap();
    assert_eq!((c.counts.created, c.counts.read), (2, 10));
    assert_eq!(
        t.begin_run(Utc::now()).unwrap().counts.created,
        2,
        "resumed with its counts"
    );
    t.record_applied("E4", &state, 1, &created).unwrap();
    assert_eq!(t.cursor().unwrap().unwrap().counts.created, 3);
    t.finish_run(&summary(1)).unwrap();
    // The next run starts from zero.
    assert_eq!(t.begin_run(Utc::now()).unwrap().counts.created, 0);
}

#[test]
fn a_store_that_lost_its_last_run_is_refused_and_rebaseline_starts_the_tenant_afresh() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let t = store.tenant("acme").unwrap();
        t.begin_run(Utc::now()).unwrap();
        t.finish_run(&summary(1)).unwrap();
        // What sled's recovery does to a damaged log: the tail (here the run record) is gone.
        store
            .shared
            .db()
            .unwrap()
            .open_tree("acme")
            .unwrap()
            .remove(key(RUNS, &1u64.to_be_bytes()))
            .unwrap();
        store.shared.db().unwrap().flush().unwrap();
    }
    let refused = Store::open(dir.path()).err().expect("refused");
    assert!(matches!(refused, StoreError::Damaged { .. }), "{refused}");
    assert!(
        refused
            .to_string()
            .contains("tenant acme: the record of its last run (1) is missing"),
        "{refused}"
    );
    Store::open_unchecked(dir.path()).unwrap().rebaseline("acme").unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.tenant("acme").unwrap().cursor().unwrap(),
        None,
        "acme starts afresh"
    );
}

#[test]
fn a_database_without_its_header_beside_a_ledger_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let ledger = std::fs::read(dir.path().join(integrity::LEDGER_FILE)).unwrap();
    // A database emptied (truncated) under its ledger.
    std::fs::remove_dir_all(dir.path()).unwrap();
    std::fs::create_dir_all(dir.path()).unwrap();
    std::fs::write(dir.path().join(integrity::LEDGER_FILE), ledger).unwrap();
    let refused = Store::open(dir.path()).err().expect("refused");
    assert!(refused.to_string().contains("store header is missing"), "{refused}");
}
