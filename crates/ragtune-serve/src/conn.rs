//! Connections: HTTP/1.1 through hyper with timeouts and header limits, every error in
//! JSON, including the ones hyper answers itself before a request reaches the router
//! (400 for a malformed request line or header, 414 for a URL over 64 KiB, 431 for too many
//! or too large headers).
//!
//! | limit | value |
//! |---|---|
//! | reading a request's headers, and waiting idle for the next one on a kept-alive connection | [`HEADER_READ_TIMEOUT`] |
//! | reading the body and answering | the per-request timeout ([`crate::Limits::timeout`], 408) |
//! | headers per request | [`MAX_HEADERS`] |

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How long a connection may take to send a request's headers, or stay idle between
/// requests, before it is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Headers per request; more is answered with 431.
pub const MAX_HEADERS: usize = 100;

/// What an automatic error response says, by status.
fn message(status: u16) -> &'static str {
    match status {
        400 => "malformed request: the request line or a header could not be parsed",
        408 => "the request took longer than the server waits",
        413 => "the request is larger than the server accepts",
        414 => "the URL is longer than the server accepts (64 KiB)",
        431 => "too many request headers, or headers too large",
        _ => "the request could not be served",
    }
}

/// The JSON response for an automatic, bodiless error response `head`, if it is one.
fn json_error(head: &[u8]) -> Option<Vec<u8>> {
    // Cheap first: every write passes here, and hyper's error heads are short.
    if head.len() > 1024 || !head.starts_with(b"HTTP/1.") {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?;
    let (line, rest) = text.split_once("\r\n")?;
    let bodiless = rest
        .split("\r\n")
        .any(|h| h.eq_ignore_ascii_case("content-length: 0"));
    if !text.ends_with("\r\n\r\n") || !bodiless {
        return None;
    }
    let mut parts = line.splitn(3, ' ');
    let (version, code) = (parts.next()?, parts.next()?);
    let status: u16 = code.parse().ok()?;
    if !version.starts_with("HTTP/1.") || !(400..600).contains(&status) {
        return None;
    }
    let reason = parts.next().unwrap_or("Error");
    let body = serde_json::json!({ "error": message(status) }).to_string();
    Some(
        format!(
            "{version} {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// A connection whose automatic error responses (a status line and headers with
/// `content-length: 0`, which hyper writes for requests it cannot parse) are rewritten
/// with a JSON body. Everything else passes through unchanged.
pub struct JsonErrors<T> {
    io: T,
    /// A rewritten response still to be written, and how much of it was.
    pending: Option<(Vec<u8>, usize)>,
}

impl<T> JsonErrors<T> {
    /// Wrap `io`.
    pub fn new(io: T) -> Self {
        Self { io, pending: None }
    }
}

impl<T: AsyncWrite + Unpin> JsonErrors<T> {
    /// When `buf` is an automatic error head: queue its JSON rewrite, start writing it,
    /// and answer that all of `buf` was taken (hyper's bytes are replaced by ours).
    fn rewrite(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Option<Poll<io::Result<usize>>> {
        let rewritten = json_error(buf)?;
        self.pending = Some((rewritten, 0));
        Some(match self.drain(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(buf.len())),
        })
    }

    /// Write what is pending; ready once nothing is.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, done)) = &mut self.pending {
            let n = std::task::ready!(Pin::new(&mut self.io).poll_write(cx, &bytes[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *done += n;
            if *done == bytes.len() {
                self.pending = None;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonErrors<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonErrors<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        std::task::ready!(this.drain(cx))?;
        if let Some(done) = this.rewrite(cx, buf) {
            return done;
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    /// Vectored writes pass through (hyper queues a head and a body this way); a single
    /// buffer holding an error head is rewritten as in `poll_write`.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        std::task::ready!(this.drain(cx))?;
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next())
            && let Some(done) = this.rewrite(cx, only)
        {
            return done;
        }
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodiless_error_heads_become_json_and_nothing_else_does() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let out = String::from_utf8(json_error(head).unwrap()).unwrap();
        let (h, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(
            h.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{h}"
        );
        assert!(h.contains("content-type: application/json"));
        assert!(h.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"], message(431));
        // A response with a body, a 200, or a partial head pass through.
        assert!(json_error(b"HTTP/1.1 404 Not Found\r\ncontent-length: 12\r\n\r\n").is_none());
        assert!(json_error(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(json_error(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n").is_none());
        assert!(json_error(b"{\"error\":\"x\"}").is_none());
    }
}
