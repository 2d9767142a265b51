//! The backend side of a request without a body (the common `GET`): an HTTP/1.1 exchange written
//! and read inline by the request's own task on a pooled connection, with no connection task or
//! channel in between. Requests with a body go through hyper's client connection instead
//! ([`super::pool`]).
//!
//! The response is framed as RFC 9112 §6.3 says: no body for `HEAD`, `1xx`, `204` and `304`;
//! `Transfer-Encoding` ending in `chunked` is decoded (trailer fields are dropped); another
//! `Transfer-Encoding` or neither header means the body runs to the end of the connection;
//! otherwise `Content-Length` (several values must agree). Interim `1xx` responses are skipped.
//! A connection is reused only after an HTTP/1.1 response without `Connection: close` whose body
//! was read to its end.

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::{pin, Pin};
use std::task::{ready, Context, Poll};

use super::transport::Stream;
use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Response, StatusCode, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Most response header fields accepted.
const MAX_HEADERS: usize = 100;
/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;

/// Where connections go back once a response was read to its end (the pool).
pub trait Returns: Send + Sync {
    fn give_back(&self, slot: usize, conn: Connection);
}

/// The way back for one connection: its pool and its slot there (no allocation per request).
pub struct Release {
    pub to: std::sync::Arc<dyn Returns>,
    pub slot: usize,
}

/// A kept-alive backend connection and the bytes read past the last response.
pub struct Connection {
    stream: Stream,
    buf: BytesMut,
}

/// What went wrong with the exchange, and whether the request may be sent again elsewhere.
#[derive(Debug)]
pub enum ExchangeError {
    /// The request head could not be written whole: the backend cannot have received the
    /// request, so it may be sent again whatever its method.
    NotSent,
    /// Nothing of a response arrived: the connection was closed or reset (a pooled connection
    /// the backend had closed). The backend may have received and acted on the request, so
    /// only an idempotent one may be sent again (RFC 9110 §9.2.2).
    NoResponse,
    /// The response was malformed or cut short.
    Broken,
}

impl Connection {
    pub fn new(stream: Stream) -> Connection {
        Connection {
            stream,
            buf: BytesMut::with_capacity(8 * 1024),
        }
    }

    /// Whether the connection can carry a new request: the backend sent nothing (no data, no
    /// close) since the last response.
    pub fn is_reusable(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        self.stream.is_idle()
    }

    async fn fill(&mut self) -> io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < 2048 {
            self.buf.reserve(8 * 1024);
        }
        self.stream.read_buf(&mut self.buf).await
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < 2048 {
            self.buf.reserve(8 * 1024);
        }
        let read = pin!(self.stream.read_buf(&mut self.buf));
        read.poll(cx)
    }

    /// Writes the request head (a request without a body, see [`RequestHead`]) and reads the
    /// response head.
    pub async fn exchange(
        mut self,
        method: &Method,
        head: &[u8],
    ) -> Result<Response<ResponseBody>, ExchangeError> {
        // Flushed: over TLS, rustls may still hold records after write_all returns.
        if self.stream.write_all(head).await.is_err() || self.stream.flush().await.is_err() {
            return Err(ExchangeError::NotSent);
        }
        loop {
            let parsed = match parse_head(&mut self.buf) {
                Ok(parsed) => parsed,
                Err(()) => return Err(ExchangeError::Broken),
            };
            let Some(head) = parsed else {
                if self.buf.len() > MAX_HEAD {
                    return Err(ExchangeError::Broken);
                }
                let started = !self.buf.is_empty();
                match self.fill().await {
                    Ok(n) if n > 0 => continue,
                    _ if started => return Err(ExchangeError::Broken),
                    _ => return Err(ExchangeError::NoResponse),
                }
            };
            if head.status.is_informational() {
                if head.status == StatusCode::SWITCHING_PROTOCOLS {
                    return Err(ExchangeError::Broken);
                }
                continue;
            }
            if head.both_framings {
                // RFC 9112 §6.3: a smuggling or splitting sign, "ought to be handled as an error".
                return Err(ExchangeError::Broken);
            }
            let keep_alive = head.version == Version::HTTP_11 && !head.close;
            let Some(framing) = framing(method, &head) else {
                return Err(ExchangeError::Broken);
            };
            let mut response = Response::new(ResponseBody {
                conn: Some(self),
                framing,
                keep_alive,
                release: None,
            });
            *response.status_mut() = head.status;
            *response.version_mut() = Version::HTTP_11;
            *response.headers_mut() = head.headers;
            response.body_mut().finish_if_done();
            return Ok(response);
        }
    }
}

/// An HTTP/1.1 request head, written field by field. Every part comes from an already
/// validated `Method`, URI, `HeaderName` or `HeaderValue`, so none holds a CR or LF.
pub struct RequestHead(Vec<u8>);

impl RequestHead {
    /// The request line; `capacity` is a guess of the fields' size.
    pub fn new(method: &Method, target: &str, capacity: usize) -> RequestHead {
        let mut head = Vec::with_capacity(method.as_str().len() + target.len() + capacity + 32);
        head.extend_from_slice(method.as_str().as_bytes());
        head.push(b' ');
        head.extend_from_slice(target.as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\n");
        RequestHead(head)
    }

    pub fn field(&mut self, name: &[u8], value: &[u8]) {
        self.0.extend_from_slice(name);
        self.0.extend_from_slice(b": ");
        self.0.extend_from_slice(value);
        self.0.extend_from_slice(b"\r\n");
    }

    /// The head, ended by its empty line.
    pub fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(b"\r\n");
        self.0
    }
}

/// A parsed response head.
struct Head {
    status: StatusCode,
    version: Version,
    /// The fields, hop-by-hop ones (and those named in `Connection`) already left out.
    headers: HeaderMap,
    /// `Connection: close`.
    close: bool,
    /// With `Transfer-Encoding`: whether its last coding is `chunked`.
    chunked: Option<bool>,
    /// `Content-Length`; `Err` when invalid or conflicting.
    length: Result<Option<u64>, ()>,
    /// Both `Transfer-Encoding` and `Content-Length` (RFC 9112 §6.3: a smuggling sign). The
    /// length is not forwarded and the connection is not reused.
    both_framings: bool,
}

/// The comma-separated, trimmed, non-empty elements of a field value.
fn elements(value: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|e| !e.is_empty())
}

/// The response head at the start of `buf`, taken out of it (field values share the buffer,
/// nothing is copied); `None` while incomplete.
fn parse_head(buf: &mut BytesMut) -> Result<Option<Head>, ()> {
    if buf.is_empty() {
        return Ok(None);
    }
    let mut uninit = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut uninit,
    );
    let length = match parsed {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let status = StatusCode::from_u16(response.code.ok_or(())?).map_err(|_| ())?;
    let version = match response.version {
        Some(1) => Version::HTTP_11,
        _ => Version::HTTP_10,
    };
    // Framing and connection management first: they decide which fields are hop-by-hop.
    let mut close = false;
    let mut named: Vec<&[u8]> = Vec::new();
    let mut chunked = None;
    let mut content_length: Result<Option<u64>, ()> = Ok(None);
    for field in response.headers.iter() {
        let name = field.name.as_bytes();
        if name.eq_ignore_ascii_case(b"connection") {
            for token in elements(field.value) {
                close |= token.eq_ignore_ascii_case(b"close");
                named.push(token);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = elements(field.value).next_back();
            chunked = Some(match last {
                Some(coding) => coding.eq_ignore_ascii_case(b"chunked"),
                None => chunked.unwrap_or(false),
            });
        } else if name.eq_ignore_ascii_case(b"content-length") {
            for part in field.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                let n = std::str::from_utf8(part)
                    .ok()
                    .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|p| p.parse::<u64>().ok());
                content_length = match (content_length, n) {
                    (Ok(None), Some(n)) => Ok(Some(n)),
                    (Ok(Some(l)), Some(n)) if l == n => Ok(Some(n)),
                    _ => Err(()),
                };
            }
        }
    }
    let mut both_framings = false;
    let base = buf.as_ptr() as usize;
    let mut fields = Vec::with_capacity(response.headers.len());
    for field in response.headers.iter() {
        let raw = field.name.as_bytes();
        // With Transfer-Encoding the body is re-framed downstream; a Content-Length beside it
        // must not be forwarded (RFC 9112 §6.3).
        let length_beside_coding = chunked.is_some() && raw.eq_ignore_ascii_case(b"content-length");
        both_framings |= length_beside_coding;
        if length_beside_coding
            || crate::http::headers::is_hop_by_hop_bytes(raw)
            || named.iter().any(|n| n.eq_ignore_ascii_case(raw))
        {
            continue;
        }
        let name = HeaderName::from_bytes(raw).map_err(|_| ())?;
        let start = (field.value.as_ptr() as usize)
            .checked_sub(base)
            .ok_or(())?;
        fields.push((name, start, start + field.value.len()));
    }
    let head = buf.split_to(length).freeze();
    let mut headers = HeaderMap::with_capacity(fields.len());
    for (name, start, end) in fields {
        if start > end || end > head.len() {
            return Err(());
        }
        let value = HeaderValue::from_maybe_shared(head.slice(start..end)).map_err(|_| ())?;
        headers.append(name, value);
    }
    Ok(Some(Head {
        status,
        version,
        headers,
        close,
        chunked,
        length: content_length,
        both_framings,
    }))
}

/// How the response body is delimited; `None` for conflicting or invalid lengths.
fn framing(method: &Method, head: &Head) -> Option<Framing> {
    if method == Method::HEAD
        || head.status == StatusCode::NO_CONTENT
        || head.status == StatusCode::NOT_MODIFIED
    {
        return Some(Framing::Length(0));
    }
    match head.chunked {
        Some(true) => return Some(Framing::Chunked(Chunk::Size)),
        Some(false) => return Some(Framing::Close),
        None => {}
    }
    Some(head.length.ok()?.map_or(Framing::Close, Framing::Length))
}

enum Framing {
    /// Bytes still to come.
    Length(u64),
    Chunked(Chunk),
    /// To the end of the connection.
    Close,
}

pub(crate) enum Chunk {
    /// A chunk-size line is next.
    Size,
    /// Bytes of the current chunk still to come.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// Trailer lines, up to the empty line.
    Trailer,
    Done,
}

/// A backend response body, read from the connection as the client takes it.
pub struct ResponseBody {
    conn: Option<Connection>,
    framing: Framing,
    keep_alive: bool,
    /// Where the connection goes once the body was read to its end (when it can be reused).
    release: Option<Release>,
}

/// Why a body could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the backend closed the connection before the end of the body")]
    Incomplete,
    #[error("the backend sent a malformed chunked body")]
    Malformed,
    #[error("reading the backend's body failed: {0}")]
    Io(#[from] io::Error),
}

impl ResponseBody {
    /// Sets where the connection goes once the body was read to its end.
    pub fn on_done(&mut self, release: Release) {
        self.release = Some(release);
        self.finish_if_done();
    }

    fn is_done(&self) -> bool {
        matches!(
            self.framing,
            Framing::Length(0) | Framing::Chunked(Chunk::Done)
        )
    }

    fn finish_if_done(&mut self) {
        if !self.is_done() || self.release.is_none() {
            return;
        }
        let conn = self.conn.take();
        let release = self.release.take();
        if let (Some(conn), Some(release), true) = (conn, release, self.keep_alive) {
            release.to.give_back(release.slot, conn);
        }
    }

    /// The next frame, from the buffered bytes or the connection.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BodyError>>> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match &mut self.framing {
                Framing::Length(0) | Framing::Chunked(Chunk::Done) => return Poll::Ready(None),
                Framing::Length(remaining) => {
                    if conn.buf.is_empty() {
                        match ready!(conn.poll_fill(cx)) {
                            Ok(0) => return Poll::Ready(Some(Err(BodyError::Incomplete))),
                            Ok(_) => {}
                            Err(e) => return Poll::Ready(Some(Err(e.into()))),
                        }
                    }
                    let n = usize::try_from(*remaining)
                        .unwrap_or(usize::MAX)
                        .min(conn.buf.len());
                    *remaining -= n as u64;
                    return Poll::Ready(Some(Ok(conn.buf.split_to(n).freeze())));
                }
                Framing::Close => {
                    if conn.buf.is_empty() {
                        match ready!(conn.poll_fill(cx)) {
                            Ok(0) => {
                                self.conn = None;
                                return Poll::Ready(None);
                            }
                            Ok(_) => {}
                            Err(e) => return Poll::Ready(Some(Err(e.into()))),
                        }
                    }
                    return Poll::Ready(Some(Ok(conn.buf.split().freeze())));
                }
                Framing::Chunked(state) => match state.step(&mut conn.buf) {
                    Err(Malformed) => return Poll::Ready(Some(Err(BodyError::Malformed))),
                    Ok(ChunkStep::Data(data)) => return Poll::Ready(Some(Ok(data))),
                    Ok(ChunkStep::Done) => {
                        self.finish_if_done();
                        return Poll::Ready(None);
                    }
                    Ok(ChunkStep::More) => match ready!(conn.poll_fill(cx)) {
                        Ok(0) => return Poll::Ready(Some(Err(BodyError::Incomplete))),
                        Ok(_) => continue,
                        Err(e) => return Poll::Ready(Some(Err(e.into()))),
                    },
                },
            }
        }
    }
}

/// A chunked body that breaks RFC 9112 §7.1.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Malformed;

/// What the chunked decoder made of the buffered bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ChunkStep {
    /// Some of a chunk's data.
    Data(Bytes),
    /// The buffer ends before the next line: read more.
    More,
    /// The last chunk and the trailer were read.
    Done,
}

impl Chunk {
    /// Decodes from the start of `buf` (taking what it decodes out of it) up to the next piece of
    /// data, the end of the body, or the end of the buffered bytes. A plain function over the
    /// buffer: the I/O is the caller's.
    pub(crate) fn step(&mut self, buf: &mut BytesMut) -> Result<ChunkStep, Malformed> {
        loop {
            match self {
                Chunk::Done => return Ok(ChunkStep::Done),
                Chunk::Data(remaining) => {
                    if buf.is_empty() {
                        return Ok(ChunkStep::More);
                    }
                    let n = usize::try_from(*remaining)
                        .unwrap_or(usize::MAX)
                        .min(buf.len());
                    *remaining -= n as u64;
                    if *remaining == 0 {
                        *self = Chunk::DataEnd;
                    }
                    return Ok(ChunkStep::Data(buf.split_to(n).freeze()));
                }
                Chunk::Size | Chunk::Trailer | Chunk::DataEnd => {
                    let Some(line) = take_line(buf) else {
                        if buf.len() > MAX_LINE {
                            return Err(Malformed);
                        }
                        return Ok(ChunkStep::More);
                    };
                    *self = match self {
                        Chunk::Size => match chunk_size(&line) {
                            Some(0) => Chunk::Trailer,
                            Some(n) => Chunk::Data(n),
                            None => return Err(Malformed),
                        },
                        Chunk::DataEnd if line.is_empty() => Chunk::Size,
                        Chunk::DataEnd => return Err(Malformed),
                        Chunk::Trailer if line.is_empty() => Chunk::Done,
                        _ => Chunk::Trailer,
                    };
                }
            }
        }
    }
}

/// The next line (without its CRLF or LF) from `buf`, if complete.
fn take_line(buf: &mut BytesMut) -> Option<BytesMut> {
    let end = buf.iter().position(|&b| b == b'\n')?;
    let mut line = buf.split_to(end + 1);
    line.truncate(end);
    if line.last() == Some(&b'\r') {
        line.truncate(end - 1);
    }
    Some(line)
}

/// The size of a chunk-size line (`1*HEXDIG [ chunk-ext ]`).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let (hex, rest) = line.split_at(digits);
    if hex.is_empty() || hex.len() > 15 {
        return None;
    }
    let rest = rest.trim_ascii_start();
    if !(rest.is_empty() || rest.starts_with(b";")) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        let polled = this.poll_next(cx);
        match &polled {
            Poll::Ready(Some(Err(_))) => this.conn = None,
            Poll::Ready(_) => this.finish_if_done(),
            Poll::Pending => {}
        }
        polled.map(|next| next.map(|r| r.map(Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        self.is_done()
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::Length(n) => SizeHint::with_exact(n),
            _ => SizeHint::default(),
        }
    }
}

/// Entry points for the fuzz targets: the response-head parser and the chunked decoder over
/// plain bytes.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    use super::*;

    /// What the head parser made of `bytes`: `Ok(None)` while incomplete; else the status, the
    /// forwarded fields, the framing it chose for a GET (`None`: refused as conflicting) and
    /// the bytes left after the head.
    #[allow(clippy::type_complexity)]
    pub fn response_head(
        bytes: &[u8],
    ) -> Result<Option<(u16, Vec<(String, Vec<u8>)>, Option<String>, usize)>, ()> {
        let mut buf = BytesMut::from(bytes);
        let Some(head) = parse_head(&mut buf)? else {
            return Ok(None);
        };
        let fields = head
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        let framing = framing(&Method::GET, &head).map(|f| match f {
            Framing::Length(n) => format!("length {n}"),
            Framing::Chunked(_) => "chunked".to_owned(),
            Framing::Close => "close".to_owned(),
        });
        Ok(Some((head.status.as_u16(), fields, framing, buf.len())))
    }

    /// Decodes a chunked body arriving as `pieces`: the data, and whether the body ended
    /// (`Err` for a malformed one).
    pub fn chunked(pieces: &[&[u8]]) -> Result<(Vec<u8>, bool), ()> {
        let mut state = Chunk::Size;
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut next = pieces.iter();
        loop {
            match state.step(&mut buf).map_err(|Malformed| ())? {
                ChunkStep::Data(d) => out.extend_from_slice(&d),
                ChunkStep::Done => return Ok((out, true)),
                ChunkStep::More => match next.next() {
                    Some(p) => buf.extend_from_slice(p),
                    None => return Ok((out, false)),
                },
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_decode_the_same_however_the_bytes_arrive() {
        /// Decodes `input` fed in pieces of `piece` bytes: the data, and whether it ended.
        fn decode(input: &[u8], piece: usize) -> Result<(Vec<u8>, bool), Malformed> {
            let mut state = Chunk::Size;
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            let mut fed = 0;
            loop {
                match state.step(&mut buf)? {
                    ChunkStep::Data(d) => out.extend_from_slice(&d),
                    ChunkStep::Done => return Ok((out, true)),
                    ChunkStep::More if fed >= input.len() => return Ok((out, false)),
                    ChunkStep::More => {
                        let end = (fed + piece).min(input.len());
                        buf.extend_from_slice(&input[fed..end]);
                        fed = end;
                    }
                }
            }
        }
        let body = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
        for piece in 1..body.len() {
            assert_eq!(
                decode(body, piece),
                Ok((b"hello world".to_vec(), true)),
                "{piece}"
            );
        }
        assert_eq!(decode(b"5\r\nhelloX\r\n", 3), Err(Malformed));
        assert_eq!(decode(b"zz\r\n", 2), Err(Malformed));
        assert_eq!(decode(b"5\r\nhel", 2), Ok((b"hel".to_vec(), false)));
        let long = [b'a'; MAX_LINE + 2];
        assert_eq!(decode(&long, 8192), Err(Malformed));
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(chunk_size(b"1a"), Some(26));
        assert_eq!(chunk_size(b"0"), Some(0));
        assert_eq!(chunk_size(b"10;ext=1"), Some(16));
        assert_eq!(chunk_size(b"10 ;ext"), Some(16));
        assert_eq!(chunk_size(b""), None);
        assert_eq!(chunk_size(b"x"), None);
        assert_eq!(chunk_size(b"1x"), None);
        assert_eq!(chunk_size(b"ffffffffffffffff"), None);
    }

    fn head_of(text: &str) -> Result<Option<Head>, ()> {
        parse_head(&mut BytesMut::from(text.as_bytes()))
    }

    fn framing_of(method: Method, text: &str) -> Option<Framing> {
        framing(&method, &head_of(text).unwrap().unwrap())
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let get = || Method::GET;
        let l = |n| Some(Framing::Length(n));
        let is = |f: Option<Framing>, want: Option<Framing>| match (f, want) {
            (Some(Framing::Length(a)), Some(Framing::Length(b))) => a == b,
            (Some(Framing::Chunked(_)), Some(Framing::Chunked(_))) => true,
            (Some(Framing::Close), Some(Framing::Close)) => true,
            (None, None) => true,
            _ => false,
        };
        let chunked = || Some(Framing::Chunked(Chunk::Size));
        let ok = "HTTP/1.1 200 OK\r\n";
        assert!(is(
            framing_of(get(), &format!("{ok}Content-Length: 3\r\n\r\n")),
            l(3)
        ));
        assert!(is(
            framing_of(get(), &format!("{ok}Content-Length: 3, 3\r\n\r\n")),
            l(3)
        ));
        assert!(is(
            framing_of(
                get(),
                &format!("{ok}Content-Length: 3\r\nContent-Length: 4\r\n\r\n")
            ),
            None
        ));
        assert!(is(
            framing_of(get(), &format!("{ok}Content-Length: -1\r\n\r\n")),
            None
        ));
        assert!(is(
            framing_of(get(), &format!("{ok}\r\n")),
            Some(Framing::Close)
        ));
        assert!(is(
            framing_of(
                get(),
                &format!("{ok}Transfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n")
            ),
            chunked()
        ));
        assert!(is(
            framing_of(get(), &format!("{ok}Transfer-Encoding: gzip\r\n\r\n")),
            Some(Framing::Close)
        ));
        assert!(is(
            framing_of(Method::HEAD, &format!("{ok}Content-Length: 3\r\n\r\n")),
            l(0)
        ));
        assert!(is(
            framing_of(get(), "HTTP/1.1 304 Not Modified\r\n\r\n"),
            l(0)
        ));
    }

    #[test]
    fn a_length_beside_transfer_encoding_is_dropped_and_ends_reuse() {
        let head = head_of(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\nX-Keep: 1\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert!(head.both_framings);
        assert_eq!(head.headers.get("content-length"), None);
        assert_eq!(head.headers.get("transfer-encoding"), None);
        assert_eq!(
            head.headers.get("x-keep").map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
        let plain = head_of("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!plain.both_framings);
        assert_eq!(
            plain.headers.get("content-length").map(|v| v.as_bytes()),
            Some(&b"3"[..])
        );
    }

    #[test]
    fn hop_by_hop_fields_are_left_out_of_the_head() {
        let head = head_of(
            "HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: t=1\r\n\
             Proxy-Foo: 1\r\nX-Keep: 2\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert!(head.close);
        let names: Vec<&str> = head.headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["x-keep", "content-length"]);
        assert_eq!(head.headers["x-keep"], "2");
        assert!(head_of("HTTP/1.1 200 OK\r\nContent").unwrap().is_none());
        assert!(head_of("nonsense\r\n\r\n").is_err());
    }

    async fn exchange(reply: &'static [u8], method: Method) -> (Vec<u8>, Result<Vec<u8>, String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = vec![0u8; 4096];
            let n = s.read(&mut got).await.unwrap();
            got.truncate(n);
            s.write_all(reply).await.unwrap();
            s.shutdown().await.unwrap();
            got
        });
        let conn = Connection::new(Stream::Plain(
            tokio::net::TcpStream::connect(addr).await.unwrap(),
        ));
        let mut head = RequestHead::new(&method, "/x?y", 0);
        head.field(b"host", b"b");
        let result = conn.exchange(&method, &head.finish()).await;
        let body = match result {
            Ok(response) => {
                use http_body_util::BodyExt;
                response
                    .into_body()
                    .collect()
                    .await
                    .map(|c| c.to_bytes().to_vec())
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(format!("{e:?}")),
        };
        (server.await.unwrap(), body)
    }

    #[tokio::test]
    async fn bodies_by_length_chunks_and_close() {
        let (sent, body) = exchange(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            Method::GET,
        )
        .await;
        assert_eq!(sent, b"GET /x?y HTTP/1.1\r\nhost: b\r\n\r\n");
        assert_eq!(body.unwrap(), b"hello");
        let (_, body) = exchange(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: 1\r\n\r\n",
            Method::GET,
        )
        .await;
        assert_eq!(body.unwrap(), b"hello world");
        let (_, body) = exchange(b"HTTP/1.0 200 OK\r\n\r\nto the end", Method::GET).await;
        assert_eq!(body.unwrap(), b"to the end");
        let (_, body) = exchange(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
            Method::GET,
        )
        .await;
        assert!(body.is_err());
        let (_, body) = exchange(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX",
            Method::GET,
        )
        .await;
        assert!(body.is_err());
        let (_, body) = exchange(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
            Method::HEAD,
        )
        .await;
        assert_eq!(body.unwrap(), b"");
        let (_, body) = exchange(b"", Method::GET).await;
        assert_eq!(body.unwrap_err(), "NoResponse");
        let (_, body) = exchange(b"garbage\r\n\r\n", Method::GET).await;
        assert_eq!(body.unwrap_err(), "Broken");
    }
}
