//! The HTTP/1 server both simulators run on: an accept loop serving an axum `Router`,
//! graceful shutdown, and a per-connection [`ConnKill`] handle (in the request
//! extensions) that lets a handler drop its connection without answering.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

/// How long `shutdown` waits for in-flight requests before cutting them off.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Put in every request's extensions: `kill()` closes the connection the request came on.
#[derive(Clone, Default)]
pub(crate) struct ConnKill(Arc<Notify>);

impl ConnKill {
    /// Closes the connection (the pending response is never sent).
    pub(crate) fn kill(&self) {
        self.0.notify_one();
    }
}

/// A running server. Clones share it; it stops on `shutdown` or when the last clone is dropped.
#[derive(Clone)]
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Arc<watch::Sender<bool>>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port).
    pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
        TcpListener::bind(addr).await
    }

    /// Starts serving `router` on `listener`.
    pub(crate) fn spawn(listener: TcpListener, router: Router) -> std::io::Result<Server> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, router, stopped));
        Ok(Server {
            addr,
            stop: Arc::new(stop),
            task: Arc::new(Mutex::new(Some(task))),
        })
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight requests finish (up to a few seconds), closes
    /// every connection and releases the port.
    pub(crate) async fn shutdown(self) {
        // send_replace never fails, even when nobody listens any more.
        self.stop.send_replace(true);
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

async fn accept_loop(listener: TcpListener, router: Router, mut stop: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    conns.spawn(serve_conn(stream, router.clone(), stop.clone()));
                }
                Err(e) => {
                    // E.g. out of file descriptors: back off a little and go on.
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            // Err: every handle was dropped, which also means stop.
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
}

async fn serve_conn(stream: TcpStream, router: Router, mut stop: watch::Receiver<bool>) {
    let kill = ConnKill::default();
    let handle = kill.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(handle.clone());
        router.clone().oneshot(req)
    });
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new());
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            // Returning drops the connection: the socket closes with nothing sent.
            _ = kill.0.notified() => return,
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
