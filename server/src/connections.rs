//! Slow and greedy clients (docs/operations.md "Slow clients and file descriptors"):
//! - a request body must keep arriving: no byte for `body_idle` or not complete within
//!   `body_total` is answered `408 body_timeout` and the connection is closed;
//! - one client address holds at most `per_addr` open connections: a request on a connection over
//!   the cap is answered `429 too_many_connections` at once (before its body is read) and that
//!   connection is closed.
//!
//! Headers have their own deadline in actix-web (`client_request_timeout`, 5 s: a stalled header
//! gets 408). Together these bound how long a connection can be held by a client that sends
//! nothing, so the file descriptors one client can hold are bounded by its connection rate times
//! these timeouts, and by the per-address cap once headers arrive.
//!
//! The timers are `actix_rt` timers of real time: they limit how long a socket is held, not a
//! timestamp of any record (those come from the injected `Clock`).

use actix_web::HttpMessage as _;
use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{Extensions, Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::{HttpResponse, web};
use futures_util::Stream;
use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// The limits of [`admit`]; see `Config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowClientLimits {
    /// Open connections per client address (0: no cap).
    pub per_addr: usize,
    /// The longest wait for the next byte of a request body.
    pub body_idle: Duration,
    /// The longest a whole request body may take.
    pub body_total: Duration,
}

impl Default for SlowClientLimits {
    fn default() -> Self {
        SlowClientLimits {
            per_addr: 256,
            body_idle: Duration::from_secs(10),
            body_total: Duration::from_secs(60),
        }
    }
}

/// Open connections per client address, shared by every worker.
#[derive(Debug, Default)]
pub struct ConnectionCount {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection, kept in the connection's data for its lifetime: counted on accept,
/// uncounted when the connection closes (drop).
#[derive(Debug)]
pub struct Slot {
    count: Arc<ConnectionCount>,
    ip: IpAddr,
    over_cap: bool,
}

impl ConnectionCount {
    fn enter(self: &Arc<Self>, ip: IpAddr, per_addr: usize) -> Slot {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        *n += 1;
        Slot {
            count: self.clone(),
            ip,
            over_cap: per_addr > 0 && *n > per_addr,
        }
    }

    /// Connections open now, from every address (the `kyukit_connections_open` gauge).
    pub fn open(&self) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.values().sum()
    }

    /// Connections open now from `ip`.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.count.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// The `HttpServer::on_connect` hook: counts the connection against its peer's address.
pub fn on_connect(
    count: Arc<ConnectionCount>,
    per_addr: usize,
) -> impl Fn(&dyn std::any::Any, &mut Extensions) + Send + Sync + 'static {
    move |conn, ext| {
        let peer = conn
            .downcast_ref::<actix_web::rt::net::TcpStream>()
            .and_then(|s| s.peer_addr().ok());
        if let Some(peer) = peer {
            ext.insert(count.enter(peer.ip(), per_addr));
        }
    }
}

/// What the middleware does with a request: refuse it (its connection is over the cap), or pass
/// it on with its body under the deadlines (`timed_out` turns true if one fired).
#[allow(missing_debug_implementations)] // ServiceRequest/ServiceResponse have none
pub enum Admission {
    Refused(ServiceResponse),
    Admitted {
        req: ServiceRequest,
        timed_out: Rc<Cell<bool>>,
    },
}

/// Checks the connection cap and puts the request body under the deadlines.
pub fn admit(mut req: ServiceRequest, limits: SlowClientLimits) -> Admission {
    if req.conn_data::<Slot>().is_some_and(|s| s.over_cap) {
        let res = closing(error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_connections",
            "too many open connections from this address; close some and try again",
        ));
        return Admission::Refused(req.into_response(res));
    }
    let timed_out = Rc::new(Cell::new(false));
    match req.take_payload() {
        Payload::None => {}
        payload => {
            let stream: Pin<Box<dyn Stream<Item = Result<web::Bytes, PayloadError>>>> =
                Box::pin(Deadline {
                    inner: payload,
                    idle: limits.body_idle,
                    idle_timer: Box::pin(actix_web::rt::time::sleep(limits.body_idle)),
                    total_timer: Box::pin(actix_web::rt::time::sleep(limits.body_total)),
                    timed_out: timed_out.clone(),
                    finished: false,
                });
            req.set_payload(Payload::from(stream));
        }
    }
    Admission::Admitted { req, timed_out }
}

/// The answer to a request whose body stopped arriving, whatever the handler made of the
/// truncated body; the connection is closed.
pub fn body_timed_out<B>(res: ServiceResponse<B>) -> ServiceResponse<EitherBody<B, BoxBody>> {
    let (req, _) = res.into_parts();
    let res = closing(error(
        StatusCode::REQUEST_TIMEOUT,
        "body_timeout",
        "the request body did not arrive in time; send it again",
    ));
    ServiceResponse::new(req, res).map_into_right_body()
}

fn error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "error": code, "message": message }))
}

fn closing(mut res: HttpResponse) -> HttpResponse {
    res.head_mut().set_connection_type(ConnectionType::Close);
    res
}

/// A request body stream that fails once no byte came for `idle`, or the body is not complete
/// by the total deadline.
struct Deadline {
    inner: Payload,
    idle: Duration,
    idle_timer: Pin<Box<actix_web::rt::time::Sleep>>,
    total_timer: Pin<Box<actix_web::rt::time::Sleep>>,
    timed_out: Rc<Cell<bool>>,
    finished: bool,
}

impl Stream for Deadline {
    type Item = Result<web::Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        // The total deadline first: a client trickling a byte at a time never lets the body
        // stream go idle.
        if this.total_timer.as_mut().poll(cx).is_ready() {
            return this.time_out();
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                let deadline = actix_web::rt::time::Instant::now() + this.idle;
                this.idle_timer.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => {
                this.finished = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Pending if this.idle_timer.as_mut().poll(cx).is_ready() => this.time_out(),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Deadline {
    fn time_out(&mut self) -> Poll<Option<Result<web::Bytes, PayloadError>>> {
        self.timed_out.set(true);
        self.finished = true;
        Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "request body timed out",
        )))))
    }
}

/// Connections the kernel queues for `accept` (capped by `net.core.somaxconn`, 4096 on current
/// Linux). A burst larger than the queue is not refused but stalls: the kernel drops the
/// handshake's last step and the client's retransmissions back off for seconds.
pub const LISTEN_BACKLOG: i32 = 4096;

/// The listening socket, with [`LISTEN_BACKLOG`] (the standard library's `bind` uses its own).
pub fn listen(addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Raises this process's soft limit on open files to its hard limit (what one connection, one
/// database connection or one data file costs); returns the limit now in force.
pub fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        lim.current = lim.maximum;
        let _ = setrlimit(Resource::Nofile, lim);
    }
    getrlimit(Resource::Nofile).current
}
