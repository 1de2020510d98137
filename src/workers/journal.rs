//! The journal service: the one place journal reads happen. Handlers submit a query ([`Journal::query`],
//! [`Journal::boots`]) and await the answer; the worker ([`run`]) runs each on a reader slot (at most
//! `logs.max_readers` at once, queries and the live follower together; a full house answers "busy")
//! with a timeout, so no request spawns a process itself and a burst of requests cannot fork a storm
//! of `journalctl`s. Every query passes `-n`: no request reads the whole journal into memory.
//!
//! The live follow is one shared poller (`journalctl --cursor=<last> -n ...` once a second through
//! the host seam) that runs only while somebody listens; subscribers get every batch and apply their
//! own filters ([`crate::tools::journal::Filter`]).
//!
//! On a replayed host (tests, the demo) the journal is a recorded `journalctl -o json` dump in the
//! scenario (`journal/journal.jsonl`), queried in memory by [`Dump`] with the same filters, cursors
//! and paging; its timestamps are shifted so that its newest entry is "now".

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::config::LogsCfg;
use crate::host::{Host, ToolError};
use crate::tools::journal::{self as parse, Boot, Dump, Entry, Page, Query};

/// Where a recorded journal lives inside a replay scenario (the host seam reads it).
pub const DUMP_PATH: &str = crate::host::JOURNAL_DUMP;
/// The follower polls this often while somebody listens.
const FOLLOW_PERIOD: Duration = Duration::from_secs(1);
/// Queued requests at most; more are refused as busy rather than piling up.
const QUEUE: usize = 32;

/// Why a journal read gave no page.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JournalError {
    #[error("the journal is busy (too many concurrent reads); retry in a moment")]
    Busy,
    /// No journal on this host (no journalctl, a scenario without one): a state, with its reason.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Failed(String),
}

impl From<ToolError> for JournalError {
    fn from(e: ToolError) -> Self {
        match e {
            ToolError::Missing { what } => {
                JournalError::Unavailable(format!("{what} is not available on this host"))
            }
            e => JournalError::Failed(e.to_string()),
        }
    }
}

/// Which journal to read.
#[derive(Debug, Clone)]
pub enum Source {
    /// `journalctl`: the system journal (`files` empty), or these `.journal` files / directories.
    Journalctl {
        files: Vec<String>,
    },
    /// A recorded dump, queried in memory.
    Dump(Arc<Dump>),
    Unavailable(String),
}

impl Source {
    /// The live host's journal, or the scenario's recorded one (shifted so its newest entry is
    /// `now_us`) on a replayed host.
    pub fn for_host(host: &Host, now_us: i64) -> Source {
        let Some(recorded) = host.recorded_journal() else {
            return Source::Journalctl { files: Vec::new() };
        };
        match recorded {
            Ok(text) => {
                let (entries, errors) = parse::parse_entries(&text);
                if let Some(first) = errors.first() {
                    tracing::warn!(error = %first, skipped = errors.len(), "recorded journal has malformed lines");
                }
                let shift = entries.iter().map(|e| e.ts_us).max().map_or(0, |newest| now_us - newest);
                Source::Dump(Arc::new(Dump::new(entries, shift)))
            }
            Err(ToolError::Missing { .. }) => {
                Source::Unavailable("this recorded host has no journal (no journal/journal.jsonl)".into())
            }
            Err(e) => Source::Unavailable(e.to_string()),
        }
    }
}

/// Runs reads against one [`Source`] through the host seam. The service uses it on its reader slots;
/// tests use it directly (e.g. over `.journal` files with `Host::system`).
pub struct Reader {
    pub host: Arc<Host>,
    pub source: Source,
    pub timeout: Duration,
}

/// What the follower found in one poll.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FollowBatch {
    /// New entries, oldest first.
    pub entries: Vec<Entry>,
    /// The follower lost its place (the journal rotated under it) and started again at the end.
    pub reset: bool,
}

impl Reader {
    async fn run(&self, argv: &[String]) -> Result<crate::host::Output, JournalError> {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        Ok(self.host.run_with_timeout(&argv, self.timeout).await?)
    }

    fn parsed(stdout: &str) -> Vec<Entry> {
        let (entries, errors) = parse::parse_entries(stdout);
        if let Some(first) = errors.first() {
            // Logged once per read; the rest of the page is still served.
            tracing::warn!(error = %first, skipped = errors.len(), "malformed journal lines skipped");
        }
        entries
    }

    /// One page, newest first. A cursor whose entry is gone restarts from the newest entry, and the
    /// page says so.
    pub async fn query(&self, q: &Query) -> Result<Page, JournalError> {
        let files = match &self.source {
            Source::Dump(d) => return Ok(d.query(q)),
            Source::Unavailable(why) => return Err(JournalError::Unavailable(why.clone())),
            Source::Journalctl { files } => files,
        };
        let limit = q.limit.max(1);
        if let Some(c) = q.cursor.as_deref() {
            // One more than asked: the cursor's own entry comes first, proving it still exists.
            let out = self.run(&parse::query_argv(files, &q.filter, Some(c), limit + 1)).await?;
            if out.code == 0
                && let Some(page) = parse::page_from_cursor_run(Self::parsed(&out.stdout), Some(c), limit)
            {
                return Ok(page);
            }
            if out.code != 0 && !out.stderr.contains("cursor") {
                return Err(Self::failed(&out));
            }
            tracing::info!("journal cursor no longer valid; starting again from the newest entry");
        }
        let out = self.run(&parse::query_argv(files, &q.filter, None, limit)).await?;
        if out.code != 0 {
            // `-b -5` on a host with two boots: nothing to show, not a failure.
            if out.stderr.contains("boot") {
                return Ok(Page { cursor_reset: q.cursor.is_some(), ..Page::default() });
            }
            return Err(Self::failed(&out));
        }
        let mut page =
            parse::page_from_cursor_run(Self::parsed(&out.stdout), None, limit).unwrap_or_default();
        page.cursor_reset = q.cursor.is_some();
        Ok(page)
    }

    fn failed(out: &crate::host::Output) -> JournalError {
        let mut msg = out.stderr.trim().to_string();
        msg.truncate(300);
        JournalError::Failed(format!("journalctl exited with code {}: {msg}", out.code))
    }

    /// The boots, newest first.
    pub async fn boots(&self) -> Result<Vec<Boot>, JournalError> {
        match &self.source {
            Source::Dump(d) => Ok(d.boots.clone()),
            Source::Unavailable(why) => Err(JournalError::Unavailable(why.clone())),
            Source::Journalctl { files } => {
                let out = self.run(&parse::boots_argv(files)).await?;
                if out.code != 0 {
                    return Err(Self::failed(&out));
                }
                parse::parse_boots(&out.stdout).map_err(|e| JournalError::Failed(e.to_string()))
            }
        }
    }

    /// One poll of the follower: the entries after `cursor` (at most `max` of them; more come at the
    /// next poll), and the cursor to continue from. Without a cursor it only finds the end.
    pub async fn follow_step(
        &self,
        cursor: Option<&str>,
        max: usize,
    ) -> Result<(FollowBatch, Option<String>), JournalError> {
        let files = match &self.source {
            // A recording does not grow.
            Source::Dump(d) => {
                return Ok((FollowBatch::default(), d.entries.last().map(|e| e.cursor.clone())));
            }
            Source::Unavailable(why) => return Err(JournalError::Unavailable(why.clone())),
            Source::Journalctl { files } => files,
        };
        let out = self.run(&parse::follow_argv(files, cursor, max + 1)).await?;
        if out.code != 0 && !(cursor.is_some() && out.stderr.contains("cursor")) {
            return Err(Self::failed(&out));
        }
        let mut entries = if out.code == 0 { Self::parsed(&out.stdout) } else { Vec::new() };
        let Some(c) = cursor else {
            return Ok((FollowBatch::default(), entries.pop().map(|e| e.cursor)));
        };
        if entries.first().map(|e| e.cursor.as_str()) != Some(c) {
            tracing::info!("journal follow lost its cursor (rotation?); following from the end again");
            return Ok((FollowBatch { entries: Vec::new(), reset: true }, None));
        }
        entries.remove(0);
        let next = entries.last().map_or_else(|| c.to_string(), |e| e.cursor.clone());
        Ok((FollowBatch { entries, reset: false }, Some(next)))
    }
}

enum Request {
    Query(Query),
    Boots,
}

enum Reply {
    Page(Page),
    Boots(Vec<Boot>),
}

type Job = (Request, oneshot::Sender<Result<Reply, JournalError>>);

/// The journal reader service handle (the API asks it; [`run`] answers).
pub struct Journal {
    tx: mpsc::Sender<Job>,
    rx: Mutex<Option<mpsc::Receiver<Job>>>,
    follow: broadcast::Sender<Arc<FollowBatch>>,
    wake: Notify,
    cfg: LogsCfg,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

impl Journal {
    pub fn new(cfg: &LogsCfg) -> Journal {
        let (tx, rx) = mpsc::channel(QUEUE);
        Journal {
            tx,
            rx: Mutex::new(Some(rx)),
            follow: broadcast::channel(64).0,
            wake: Notify::new(),
            cfg: cfg.clone(),
        }
    }

    pub fn limits(&self) -> &LogsCfg {
        &self.cfg
    }

    async fn ask(&self, req: Request) -> Result<Reply, JournalError> {
        let (reply, wait) = oneshot::channel();
        self.tx.try_send((req, reply)).map_err(|_| JournalError::Busy)?;
        // The worker answers within its own timeout; this bound only guards against a stopped worker.
        let bound = Duration::from_secs(self.cfg.query_timeout_s.max(1) + 5);
        match tokio::time::timeout(bound, wait).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(JournalError::Failed("the journal service stopped".into())),
            Err(_) => Err(JournalError::Failed("the journal service did not answer in time".into())),
        }
    }

    /// A page of entries, newest first (see [`Reader::query`]).
    pub async fn query(&self, q: Query) -> Result<Page, JournalError> {
        match self.ask(Request::Query(q)).await? {
            Reply::Page(p) => Ok(p),
            Reply::Boots(_) => Err(JournalError::Failed("unexpected answer".into())),
        }
    }

    pub async fn boots(&self) -> Result<Vec<Boot>, JournalError> {
        match self.ask(Request::Boots).await? {
            Reply::Boots(b) => Ok(b),
            Reply::Page(_) => Err(JournalError::Failed("unexpected answer".into())),
        }
    }

    /// Joins the live follow; the follower runs while at least one receiver exists.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<FollowBatch>> {
        let rx = self.follow.subscribe();
        self.wake.notify_one();
        rx
    }

    /// How many live followers are connected.
    pub fn followers(&self) -> usize {
        self.follow.receiver_count()
    }
}

/// The worker: answers queries on reader slots and runs the shared follower while it has listeners.
pub async fn run(journal: Arc<Journal>, host: Arc<Host>, loops: super::Loops) {
    let Some(mut rx) = journal.rx.lock().ok().and_then(|mut r| r.take()) else { return };
    let cfg = journal.cfg.clone();
    let source = Source::for_host(&host, loops.clock.now_ms() * 1000);
    if let Source::Unavailable(why) = &source {
        tracing::info!(reason = %why, "journal unavailable");
    }
    let reader = Arc::new(Reader {
        host: host.clone(),
        source,
        timeout: Duration::from_secs(cfg.query_timeout_s.max(1)),
    });
    let slots = Arc::new(Semaphore::new(cfg.max_readers.max(1)));
    let serve = async {
        loop {
            let job = tokio::select! {
                _ = loops.cancel.cancelled() => break,
                job = rx.recv() => job,
            };
            let Some((req, reply)) = job else { break };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                let _ = reply.send(Err(JournalError::Busy));
                continue;
            };
            let reader = reader.clone();
            loops.tracker.spawn(async move {
                let result = match req {
                    Request::Query(q) => reader.query(&q).await.map(Reply::Page),
                    Request::Boots => reader.boots().await.map(Reply::Boots),
                };
                drop(permit);
                if let Err(JournalError::Failed(e)) = &result {
                    tracing::warn!(error = %e, "journal read failed");
                }
                let _ = reply.send(result);
            });
        }
    };
    tokio::join!(serve, follow(&journal, &loops.cancel, &reader, &slots, cfg.max_page));
}

/// The shared follower: idle (no process) while nobody listens.
async fn follow(
    journal: &Journal,
    cancel: &CancellationToken,
    reader: &Reader,
    slots: &Arc<Semaphore>,
    max: usize,
) {
    let mut cursor: Option<String> = None;
    let mut failing = false;
    loop {
        if journal.followers() == 0 {
            cursor = None;
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = journal.wake.notified() => continue,
            }
        }
        let permit = tokio::select! {
            _ = cancel.cancelled() => return,
            p = slots.clone().acquire_owned() => p,
        };
        let result = reader.follow_step(cursor.as_deref(), max).await;
        drop(permit);
        match result {
            Ok((batch, next)) => {
                failing = false;
                cursor = next;
                if !batch.entries.is_empty() || batch.reset {
                    let _ = journal.follow.send(Arc::new(batch));
                }
            }
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "journal follow failed; retrying");
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(FOLLOW_PERIOD) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    #[tokio::test]
    async fn a_full_queue_answers_busy_at_once() {
        let journal = Arc::new(Journal::new(&LogsCfg::default()));
        // No worker runs: the queue fills up and the next request is refused instead of waiting.
        let waiting: Vec<_> = (0..QUEUE)
            .map(|_| {
                let j = journal.clone();
                tokio::spawn(async move { j.boots().await })
            })
            .collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while journal.tx.capacity() > 0 {
            assert!(tokio::time::Instant::now() < deadline, "the queue did not fill");
            tokio::task::yield_now().await;
        }
        let q = Query { limit: 10, ..Default::default() };
        assert!(matches!(journal.query(q).await, Err(JournalError::Busy)));
        for w in waiting {
            w.abort();
        }
    }

    #[tokio::test]
    async fn the_demo_dump_is_shifted_to_now_and_a_scenario_without_one_is_unavailable() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo");
        let host = Host::replay(crate::host::Scenario::load(&dir).unwrap(), Duration::from_secs(5));
        let now_us = 1_800_000_000_000_000;
        let Source::Dump(dump) = Source::for_host(&host, now_us) else { panic!("the demo has a journal") };
        assert_eq!(dump.newest_us(), Some(now_us));
        assert!(dump.entries.len() > 300);
        assert_eq!(dump.boots.len(), 2);
        let reader =
            Reader { host: Arc::new(host), source: Source::Dump(dump), timeout: Duration::from_secs(1) };
        let (batch, tip) = reader.follow_step(None, 10).await.unwrap();
        assert!(batch.entries.is_empty() && tip.is_some(), "a recording does not grow");

        let empty = tempfile::tempdir().unwrap();
        std::fs::write(empty.path().join("manifest.toml"), "[scenario]\nname = \"empty\"\n").unwrap();
        let host = Host::replay(crate::host::Scenario::load(empty.path()).unwrap(), Duration::from_secs(5));
        assert!(
            matches!(Source::for_host(&host, now_us), Source::Unavailable(r) if r.contains("no journal"))
        );
    }
}
