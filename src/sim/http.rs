//! The request and the answer as every handler sees them: [`Req`] in, [`Reply`] out.
//!
//! A room of its own so the request pipeline (`server`), the HostUp API (`api`) and the admin
//! API (`admin`) share these types while depending on each other in one direction only. A reply
//! stays a value until the pipeline has logged it and let faults cut or replace it.

use axum::body::{Body, Bytes};
use axum::response::Response;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, Method, StatusCode};
use serde_json::{json, Value};

use super::problem::ApiError;

/// An answer before it becomes an HTTP response (so faults can cut or replace it).
pub(crate) struct Reply {
    pub status: StatusCode,
    pub content_type: Option<&'static str>,
    pub body: Bytes,
    pub headers: Vec<(HeaderName, String)>,
}

impl Reply {
    /// A JSON success answer.
    pub fn json(status: u16, v: &Value) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            content_type: Some("application/json"),
            body: Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
            headers: Vec::new(),
        }
    }

    /// An answer without a body (204).
    pub fn empty(status: u16) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::NO_CONTENT),
            content_type: None,
            body: Bytes::new(),
            headers: Vec::new(),
        }
    }

    /// A Problem Details answer for `e` at `instance`.
    pub fn problem(e: &ApiError, instance: &str, request_id: &str) -> Self {
        Self {
            status: StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            content_type: Some("application/problem+json"),
            body: Bytes::from(
                serde_json::to_vec(&e.body(instance, request_id)).unwrap_or_default(),
            ),
            headers: Vec::new(),
        }
    }

    /// The HTML page a proxy in front of the API answers when the API is down.
    pub fn html502() -> Self {
        Self {
            status: StatusCode::BAD_GATEWAY,
            content_type: Some("text/html"),
            body: Bytes::from_static(
                b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
            ),
            headers: Vec::new(),
        }
    }

    /// Adds a header (lowercase name).
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers
            .push((HeaderName::from_static(name), value.into()));
        self
    }

    /// The HTTP response that goes on the wire.
    pub fn into_response(self) -> Response {
        let mut resp = Response::new(Body::from(self.body));
        *resp.status_mut() = self.status;
        let h = resp.headers_mut();
        if let Some(ct) = self.content_type {
            h.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        for (k, v) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        }
        resp
    }
}

/// The request as handlers see it.
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub request_id: String,
}

/// Renders `{"ok": true}`-style admin answers.
pub(crate) fn ok() -> Reply {
    Reply::json(200, &json!({"ok": true}))
}
