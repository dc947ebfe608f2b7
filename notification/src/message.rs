//! Building the MIME message: plain text and HTML alternatives, an optional inline chart, and
//! the RFC 8058 one-click unsubscribe headers.

use lettre::Message;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use crate::templates::Rendered;

/// The Content-ID the summary's chart is referenced by (`cid:chart`).
pub const CHART_CID: &str = "chart";

/// Everything one email carries besides its rendered parts.
pub struct Envelope<'a> {
    /// `MAIL_FROM`.
    pub from: &'a Mailbox,
    /// The recipient.
    pub to: Mailbox,
    /// The row's fixed Message-ID.
    pub message_id: &'a str,
    /// The one-click unsubscribe URL.
    pub unsubscribe_url: &'a str,
    /// A PNG shown inline as `cid:chart`.
    pub chart_png: Option<Vec<u8>>,
}

/// `List-Unsubscribe: <https://…>` (RFC 2369).
#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
#[derive(Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

/// Assembles the message.
pub fn build(envelope: Envelope<'_>, rendered: &Rendered) -> Result<Message, lettre::error::Error> {
    let builder = Message::builder()
        .from(envelope.from.clone())
        .to(envelope.to)
        .subject(rendered.subject.clone())
        .message_id(Some(envelope.message_id.to_owned()))
        .header(ListUnsubscribe(format!("<{}>", envelope.unsubscribe_url)))
        .header(ListUnsubscribePost);
    let text = SinglePart::plain(rendered.text.clone());
    let html = SinglePart::html(rendered.html.clone());
    let body = match envelope.chart_png {
        None => MultiPart::alternative().singlepart(text).singlepart(html),
        Some(png) => MultiPart::alternative().singlepart(text).multipart(
            MultiPart::related().singlepart(html).singlepart(
                Attachment::new_inline(CHART_CID.to_owned())
                    .body(png, ContentType::parse("image/png").expect("a valid MIME type")),
            ),
        ),
    };
    builder.multipart(body)
}
