//! `s3-null`: a do-nothing HTTP server used to calibrate `s3-load`.
//!
//! Answers every PUT with an empty 200 (after draining the body) and every
//! other request with `--get-size` bytes, without checking signatures or
//! storing anything. `run.sh` benchmarks it like a real server: the result is
//! the ceiling of what the load generator can drive on this machine, which
//! shows whether a real server's figures are limited by the client.

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;

#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Body size of GET responses.
    #[arg(long, default_value_t = 4096)]
    get_size: usize,
}

async fn handle(req: Request<Incoming>, get_body: Bytes) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() == Method::PUT {
        let _ = req.into_body().collect().await;
        return Ok(Response::new(Full::new(Bytes::new())));
    }
    Ok(Response::new(Full::new(get_body)))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    println!("listening on {}", listener.local_addr()?);
    let get_body = Bytes::from(vec![b'x'; args.get_size]);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let body = get_body.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(req, body.clone()));
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}
