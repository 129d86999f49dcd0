//! `s3-null`: a do-nothing HTTP server used to calibrate `s3-load`.
//!
//! Answers a PUT with an empty 200 after draining the body (remembering only
//! the body length per path) and a GET with that many bytes (404 if never
//! PUT), without checking signatures or storing data. `run.sh` benchmarks it
//! like a real server: the result is the ceiling of what the load generator
//! can drive on this machine, showing whether real figures are client-bound.

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::rc::Rc;

#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
}

/// Body length per path, and one shared buffer per length.
#[derive(Default)]
struct State {
    sizes: HashMap<String, usize>,
    bodies: HashMap<usize, Bytes>,
}

async fn handle(req: Request<Incoming>, state: Rc<RefCell<State>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    if req.method() == Method::PUT {
        let len = req.into_body().collect().await.map(|c| c.to_bytes().len()).unwrap_or(0);
        let mut st = state.borrow_mut();
        st.sizes.insert(path, len);
        st.bodies.entry(len).or_insert_with(|| Bytes::from(vec![b'x'; len]));
        return Ok(Response::new(Full::new(Bytes::new())));
    }
    let st = state.borrow();
    Ok(match st.sizes.get(&path) {
        Some(len) => Response::new(Full::new(st.bodies[len].clone())),
        None => {
            let mut resp = Response::new(Full::new(Bytes::new()));
            *resp.status_mut() = StatusCode::NOT_FOUND;
            resp
        }
    })
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // Single-threaded: connections are tasks on a LocalSet sharing `State`.
    tokio::task::LocalSet::new().block_on(&rt, async move {
        let listener = tokio::net::TcpListener::bind(&args.listen).await?;
        println!("listening on {}", listener.local_addr()?);
        let state = Rc::new(RefCell::new(State::default()));
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let state = state.clone();
            tokio::task::spawn_local(async move {
                let svc = service_fn(move |req| handle(req, state.clone()));
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    })
}
