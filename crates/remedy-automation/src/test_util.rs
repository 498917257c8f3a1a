//! Test doubles (feature `test-util`): an in-memory [`TestWorld`], a [`ManualClock`] and a tiny
//! [`block_on`], so interpreter tests need no async runtime.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use serde_json::Value;

use crate::interpreter::Clock;
use crate::world::{World, WorldError};

type Handler = Arc<dyn Fn(&Value) -> Result<Value, WorldError> + Send + Sync>;

enum Behaviour {
    Answer(Handler),
    /// Never completes (to exercise timeouts).
    Hang,
}

/// One call the world received.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldCall {
    pub service: String,
    pub api: String,
    pub input: Value,
}

/// An in-memory world: canned answers or closures per `(service, api)`, and a call log.
#[derive(Default)]
pub struct TestWorld {
    handlers: BTreeMap<(String, String), Behaviour>,
    calls: Mutex<Vec<WorldCall>>,
}

impl TestWorld {
    pub fn new() -> TestWorld {
        TestWorld::default()
    }
    /// Answers `(service, api)` with a closure over the request input.
    pub fn on(
        mut self,
        service: &str,
        api: &str,
        f: impl Fn(&Value) -> Result<Value, WorldError> + Send + Sync + 'static,
    ) -> TestWorld {
        self.handlers.insert(
            (service.to_string(), api.to_string()),
            Behaviour::Answer(Arc::new(f)),
        );
        self
    }
    /// Answers `(service, api)` with a fixed response.
    pub fn respond(self, service: &str, api: &str, response: Value) -> TestWorld {
        self.on(service, api, move |_| Ok(response.clone()))
    }
    /// Fails `(service, api)` with an AWS error.
    pub fn fail(self, service: &str, api: &str, code: &str, message: &str) -> TestWorld {
        let e = WorldError::new(code, message);
        self.on(service, api, move |_| Err(e.clone()))
    }
    /// `(service, api)` never answers.
    pub fn hang(mut self, service: &str, api: &str) -> TestWorld {
        self.handlers
            .insert((service.to_string(), api.to_string()), Behaviour::Hang);
        self
    }
    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<WorldCall> {
        self.calls.lock().expect("call log").clone()
    }
    pub fn call_count(&self, service: &str, api: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.service == service && c.api == api)
            .count()
    }
}

#[async_trait]
impl World for TestWorld {
    async fn call(&self, service: &str, api: &str, input: Value) -> Result<Value, WorldError> {
        self.calls.lock().expect("call log").push(WorldCall {
            service: service.to_string(),
            api: api.to_string(),
            input: input.clone(),
        });
        match self.handlers.get(&(service.to_string(), api.to_string())) {
            Some(Behaviour::Answer(h)) => h(&input),
            Some(Behaviour::Hang) => std::future::pending().await,
            None => Err(WorldError::new(
                "UnsupportedOperation",
                format!(
                    "the test world does not emulate {service}:{api}; it answers {}",
                    self.handlers
                        .keys()
                        .map(|(s, a)| format!("{s}:{a}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }
}

/// A clock that only moves when told to; `sleep_ms` moves it and returns at once.
#[derive(Debug, Default, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start_ms: i64) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(start_ms)))
    }
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn set_ms(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
    async fn sleep_ms(&self, ms: u64) {
        self.advance_ms(ms as i64);
    }
}

/// Runs a future to completion on this thread (for futures that never wait on real I/O).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}
