//! HTTPS: `POST /validate` (AdmissionReview), `GET /healthz`, `GET /metrics`. Bodies are
//! bounded ([`crate::MAX_BODY_BYTES`]), TLS handshakes and request reads are timed out, and
//! connections are bounded, so a misbehaving client costs bounded memory. Judging runs on
//! the blocking pool: a review is CPU work.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::metrics::Metrics;
use crate::reviewer::{Answer, Reviewer};

/// Connections served at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 64;
/// A TLS handshake, a request's headers or its body that takes longer is dropped.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of an oversized body read and dropped before the answer.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

pub struct App {
    pub reviewer: Arc<Reviewer>,
    pub metrics: Arc<Metrics>,
    pub max_body: usize,
}

/// Serves until `shutdown` completes. Errors of one connection are logged, never fatal.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => return,
            p = Arc::clone(&slots).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("webhook: accept failed: {e}");
                    // EMFILE and the like: give the system a moment instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(IO_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!("webhook: TLS handshake with {peer} failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!("webhook: TLS handshake with {peer} timed out");
                    return;
                }
            };
            let service = service_fn(move |req| handle(Arc::clone(&app), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(IO_TIMEOUT)
                .serve_connection(TokioIo::new(tls), service);
            if let Err(e) = conn.await {
                tracing::debug!("webhook: connection from {peer}: {e}");
            }
        });
    }
}

async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = match (req.method(), req.uri().path()) {
        (&Method::POST, "/validate") => validate(&app, req).await,
        (&Method::GET, "/healthz") => health(&app),
        (&Method::GET, "/metrics") => {
            app.metrics.published(&app.reviewer.status());
            text(
                StatusCode::OK,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                app.metrics.encode(),
            )
        }
        (_, "/validate" | "/healthz" | "/metrics") => text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n".into(),
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: the webhook serves /validate, /healthz and /metrics\n".into(),
        ),
    };
    Ok(response)
}

/// `{"status": "ok", "baseline": {...}}`: serving, and how current the baseline is.
fn health(app: &App) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"status": "ok", "baseline": app.reviewer.status()});
    let mut body = serde_json::to_string(&body).unwrap_or_else(|_| "{\"status\":\"ok\"}".into());
    body.push('\n');
    text(StatusCode::OK, "application/json", body)
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}

async fn validate(app: &Arc<App>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let read = tokio::time::timeout(IO_TIMEOUT, read_bounded(req.into_body(), app.max_body)).await;
    let reviewer = Arc::clone(&app.reviewer);
    let answer = match read {
        Ok(Ok(Body::Complete(body))) => judge(reviewer, body).await,
        Ok(Ok(Body::TooLarge(prefix))) => reviewer.too_large(&prefix, app.max_body),
        Ok(Err(e)) => {
            tracing::debug!("webhook: reading a review failed: {e}");
            return text(
                StatusCode::BAD_REQUEST,
                "text/plain",
                format!("the body could not be read: {e}\n"),
            );
        }
        Err(_) => {
            return text(
                StatusCode::REQUEST_TIMEOUT,
                "text/plain",
                "the body was not sent in time\n".into(),
            );
        }
    };
    if declared.is_some_and(|n| n > app.max_body as u64) {
        tracing::debug!("webhook: declared body of {declared:?} bytes over the bound");
    }
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut r = Response::new(Full::new(Bytes::from(answer.body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// The review judged on the blocking pool; a panic there is answered like any other
/// internal trouble: admitted with a warning.
async fn judge(reviewer: Arc<Reviewer>, body: Vec<u8>) -> Answer {
    let body = Arc::new(body);
    let job = {
        let reviewer = Arc::clone(&reviewer);
        let body = Arc::clone(&body);
        tokio::task::spawn_blocking(move || reviewer.review(&body))
    };
    match job.await {
        Ok(answer) => answer,
        Err(e) => reviewer.internal_error(&body, &e.to_string()),
    }
}

enum Body {
    Complete(Vec<u8>),
    /// The first `limit` bytes of a larger body; the rest is not read.
    TooLarge(Vec<u8>),
}

async fn read_bounded(mut body: Incoming, limit: usize) -> Result<Body, hyper::Error> {
    let mut out = Vec::new();
    let mut over = false;
    let mut drained = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        if over {
            // The rest is read and dropped, so the answer reaches the client instead of a
            // reset; past DRAIN_LIMIT the connection is given up.
            drained += data.len();
            if drained > DRAIN_LIMIT {
                break;
            }
            continue;
        }
        if out.len() + data.len() > limit {
            let room = limit - out.len();
            out.extend_from_slice(&data[..room]);
            over = true;
            continue;
        }
        out.extend_from_slice(data);
    }
    Ok(if over {
        Body::TooLarge(out)
    } else {
        Body::Complete(out)
    })
}
