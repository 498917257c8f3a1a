//! `remedy-bench`: a closed-loop load generator that signs every request with SigV4, so a
//! server's signature verification is part of what is measured (unlike a replayed fixed header).
//!
//! Each of `--concurrency` connections sends its next request when the previous answer arrives
//! (keep-alive HTTP/1.1). `{i}` in the body template is replaced by a per-request counter, so
//! writes create distinct objects. Prints one JSON line: requests, non-200 count, req/s, p50/p99.
//!
//! ```sh
//! remedy-bench --endpoint 127.0.0.1:4599 --target PutConfigRule \
//!   --body '{"ConfigRule":{"ConfigRuleName":"r-{i}","Source":{"Owner":"AWS","SourceIdentifier":"S3_BUCKET_VERSIONING_ENABLED"}}}' \
//!   --concurrency 64 --seconds 10
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Parser, Debug, Clone)]
struct Args {
    /// host:port of the server.
    #[arg(long, default_value = "127.0.0.1:4599")]
    endpoint: String,
    /// Operation name; sent as `<prefix>.<target>`.
    #[arg(long)]
    target: String,
    #[arg(long, default_value = "StarlingDoveService")]
    prefix: String,
    /// SigV4 service name.
    #[arg(long, default_value = "config")]
    service: String,
    /// Request body; `{i}` becomes a per-request counter. `@FILE` reads a file.
    #[arg(long, default_value = "{}")]
    body: String,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Stop after this many requests in all (whichever of this and `--seconds` comes first):
    /// a fixed amount of work, for counting instructions per request.
    #[arg(long)]
    requests: Option<u64>,
    #[arg(long, default_value = "test")]
    access_key: String,
    #[arg(long, default_value = "test")]
    secret_key: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
}

struct Conn {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Conn {
    async fn open(endpoint: &str) -> std::io::Result<Conn> {
        let s = TcpStream::connect(endpoint).await?;
        s.set_nodelay(true)?;
        let (r, w) = s.into_split();
        Ok(Conn {
            reader: BufReader::new(r),
            writer: w,
        })
    }

    /// Sends one request and reads the whole response; returns the status and whether the server
    /// keeps the connection open (moto's Werkzeug server answers `Connection: close`).
    async fn round_trip(&mut self, request: &[u8]) -> std::io::Result<(u16, bool)> {
        self.writer.write_all(request).await?;
        let mut line = String::new();
        self.reader.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = None;
        let mut keep_alive = !line.starts_with("HTTP/1.0");
        loop {
            line.clear();
            if self.reader.read_line(&mut line).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().ok();
                } else if k.eq_ignore_ascii_case("connection") {
                    keep_alive = !v.trim().eq_ignore_ascii_case("close");
                }
            }
        }
        match length {
            Some(n) => {
                let mut body = vec![0u8; n];
                self.reader.read_exact(&mut body).await?;
            }
            None => {
                // No length: the body runs to the end of the connection.
                let mut body = Vec::new();
                self.reader.read_to_end(&mut body).await?;
                keep_alive = false;
            }
        }
        Ok((status, keep_alive))
    }
}

fn build_request(args: &Args, body: &str) -> Vec<u8> {
    let now = SystemTime::now();
    let amz_date = remedy_sigv4::format_amz_date(now);
    let target = format!("{}.{}", args.prefix, args.target);
    let headers = [
        ("Host", args.endpoint.as_str()),
        ("X-Amz-Date", amz_date.as_str()),
        ("X-Amz-Target", target.as_str()),
        ("Content-Type", "application/x-amz-json-1.1"),
    ];
    let auth = remedy_sigv4::sign_request(
        "POST",
        "/",
        &headers,
        body.as_bytes(),
        &args.access_key,
        &args.secret_key,
        &args.region,
        &args.service,
        now,
    );
    let mut req = String::from("POST / HTTP/1.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!(
        "Authorization: {auth}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    req.into_bytes()
}

#[tokio::main]
async fn main() {
    let mut args = Args::parse();
    if let Some(path) = args.body.strip_prefix('@') {
        args.body = std::fs::read_to_string(path).expect("read --body file");
    }
    let args = Arc::new(args);
    let counter = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (args, counter) = (args.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0u64;
            let mut conn = Conn::open(&args.endpoint).await.expect("connect");
            while Instant::now() < deadline {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                if args.requests.is_some_and(|n| i >= n) {
                    break;
                }
                let request = build_request(&args, &args.body.replace("{i}", &i.to_string()));
                let t = Instant::now();
                let outcome = conn.round_trip(&request).await;
                match outcome {
                    Ok((200, _)) => latencies.push(t.elapsed()),
                    Ok(_) => failures += 1,
                    Err(_) => {}
                }
                match outcome {
                    Ok((_, true)) => {}
                    Ok((_, false)) => {
                        conn = Conn::open(&args.endpoint).await.expect("reconnect");
                    }
                    Err(_) => {
                        failures += 1;
                        conn = Conn::open(&args.endpoint).await.expect("reconnect");
                    }
                }
            }
            (latencies, failures)
        }));
    }
    let mut all = Vec::new();
    let mut failures = 0;
    for t in tasks {
        let (l, f) = t.await.expect("task");
        all.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    println!(
        "{}",
        serde_json::json!({
            "target": args.target, "concurrency": args.concurrency, "seconds": elapsed,
            "ok": all.len(), "failed": failures, "rps": all.len() as f64 / elapsed,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99),
        })
    );
}
