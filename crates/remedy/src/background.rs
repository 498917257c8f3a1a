//! A background task with a cooperative stop signal, shared by the evaluation and remediation
//! engines: `spawn` hands the task a `watch` receiver that turns `true` on stop, and
//! [`Background::stop`] signals it and waits until the task has wound down.

use std::future::Future;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Background {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Background {
    /// Starts `run` on the current runtime with the stop signal.
    pub fn spawn<F, Fut>(run: F) -> Background
    where
        F: FnOnce(watch::Receiver<bool>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(run(rx));
        Background { stop, task }
    }

    /// Signals the task to stop and waits for it to finish what it has in hand.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
