//! The fault soak's short form: the real desk against the simulator over loopback, `maker`
//! armed on two dozen markets, every fault mode on, a kill and a reset in the middle; the end
//! state must equal the exchange's. `kdesk soak --minutes 10` is the long form.

use std::time::Duration;

use kalshi_desk::soak::{self, SoakConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_fault_soak_ends_equal_to_the_exchange() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = SoakConfig::new(Duration::from_secs(30), dir.path().to_path_buf());
    config.seed = 11;
    config.markets = 24;
    config.verbose = true;
    let report = soak::run(config).await.expect("the soak runs");
    let text = report.render();
    println!("{text}");
    assert!(report.passed(), "{text}");
    let injected = report.injected;
    assert!(injected.rest_5xx > 0 && injected.lost_answers > 0, "{text}");
    assert!(injected.rest_429 > 0 && injected.seq_skips > 0, "{text}");
    assert!(injected.ws_closes + injected.ws_resets > 0, "{text}");
    assert!(
        injected.frozen_frames > 0 && injected.ws_duplicates > 0,
        "{text}"
    );
    assert_eq!((report.episodes.kills, report.episodes.resets), (1, 1));
    assert!(report.recoveries.reconnects > 0, "{text}");
    assert!(report.activity.accepted_creates > 0, "{text}");
    assert_eq!(report.halts.len(), 1, "{text}");
}
