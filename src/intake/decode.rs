//! Turns a postback's raw query string and body into one flat map of fields, repairing only what is unambiguous.
//!
//! impact.com lets the partner write the body template, so bodies arrive as JSON, form data or XML,
//! sometimes under the wrong content type, and JSON templates are often copied from help pages
//! with their `//` comments, trailing commas or empty values (`"Payout": ,`). This module reads
//! all of them into one [`Fields`] map, keeps every value's exact text (numbers are never turned
//! into floats) and says in [`Decoded::warnings`] what it had to guess or repair. Anything that is
//! not unambiguous is a [`DecodeError`], so the caller can quarantine the raw postback instead.
//!
//! No I/O, no actix, no diesel: a pure function of the request's query, content type and body.

use std::collections::HashSet;
use std::fmt;

use quick_xml::errors::IllFormedError;
use quick_xml::events::Event;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

/// The decoded fields: the partner's keys, exact case, in arrival order.
pub type Fields = Map<String, Value>;

/// How deep JSON or XML may nest whatever [`Limits::max_depth`] says. serde_json refuses 128
/// levels on its own; XML uses the same ceiling so that both formats behave alike.
pub const DEPTH_CEILING: usize = 127;

/// At most this many warnings are kept; the rest are counted in one last warning.
const MAX_WARNINGS: usize = 64;

/// How many bytes of the input an error or warning may quote (a key or an element name).
const QUOTE_BYTES: usize = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Empty,
    Json,
    Form,
    Xml,
}

impl fmt::Display for BodyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BodyFormat::Empty => "empty",
            BodyFormat::Json => "JSON",
            BodyFormat::Form => "form",
            BodyFormat::Xml => "XML",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The body's fields, then the query string's keys that the body does not have.
    pub fields: Fields,
    /// The format the body was read as (after sniffing), `Empty` for a body-less postback.
    pub format: BodyFormat,
    /// One human sentence per guess or repair, in the order they happened.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("the body is not valid UTF-8: the first invalid byte is at offset {offset}")]
    BodyNotUtf8 { offset: usize },
    #[error("the content type {content_type} is not one this receiver reads (JSON, form or XML)")]
    UnsupportedContentType { content_type: String },
    #[error("the body does not look like JSON, XML or form data, and {declared}")]
    UnrecognizedBody { declared: String },
    #[error("the query string is not key=value pairs: {reason}")]
    InvalidQuery { reason: String },
    #[error("the form body is not key=value pairs: {reason}")]
    InvalidForm { reason: String },
    #[error("the JSON body is not valid JSON at line {line}, column {column}: {reason}")]
    InvalidJson {
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("the JSON body's top level is {found}, not an object of fields")]
    JsonNotAnObject { found: &'static str },
    #[error("the XML body is not well-formed at line {line}, column {column}: {reason}")]
    InvalidXml {
        line: usize,
        column: usize,
        reason: String,
    },
    #[error(
        "the XML body uses the entity {entity} at line {line}, column {column}; only XML's five predefined entities and character references are read, never entities a DTD declares"
    )]
    UnknownXmlEntity {
        line: usize,
        column: usize,
        entity: String,
    },
    #[error("the XML body has no root element")]
    XmlNoRoot,
    #[error("the {format} body nests deeper than {limit} levels at line {line}, column {column}")]
    TooDeep {
        format: BodyFormat,
        limit: usize,
        line: usize,
        column: usize,
    },
    #[error(
        "the postback has more than {limit} fields (query string and body together); {key} is beyond the limit"
    )]
    TooManyFields { limit: usize, key: String },
}

/// Bounds on what one postback may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Distinct top-level keys, the body's and the query string's together.
    pub max_fields: usize,
    /// Nesting of a JSON or XML body, the top-level object counting as 1 (`{"items":[{}]}` is 3).
    /// Never more than [`DEPTH_CEILING`], whatever is set here.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_fields: 512,
            max_depth: 16,
        }
    }
}

/// The text of a scalar field as it arrived: strings as they are, numbers with their exact digits
/// (`10.50` stays `10.50`), booleans as `true`/`false`. `None` for null, arrays and objects.
pub fn field_text(value: &Value) -> Option<&str> {
    match value {
        Value::String(text) => Some(text),
        Value::Number(number) => Some(number.as_str()),
        Value::Bool(true) => Some("true"),
        Value::Bool(false) => Some("false"),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// `query` is the raw query string (no leading '?'), already stripped of credentials.
/// The query's pairs are merged UNDER the body's: a key the body has, in any ASCII case (the
/// mapping looks keys up without regard to case), keeps the body's value.
///
/// NUL characters are removed from every key and text value (PostgreSQL's text refuses them;
/// the raw body, stored as bytes, keeps them), with a warning naming the key.
pub fn decode(
    query: &str,
    content_type: Option<&str>,
    body: &[u8],
    limits: &Limits,
) -> Result<Decoded, DecodeError> {
    let mut warnings = Warnings::default();
    let query_fields = decode_pairs(query, "the query string", &mut warnings)
        .map_err(|reason| DecodeError::InvalidQuery { reason })?;
    let (body_fields, format) = decode_body(content_type, body, limits, &mut warnings)?;
    // Before merging: a key that only NUL told apart from another must not slip past the rule.
    let query_fields = without_nul(query_fields, &mut warnings);
    let body_fields = without_nul(body_fields, &mut warnings);

    // A postback's fields usually come in one place; then that map is the result as it is.
    let (mut fields, query_fields) = if body_fields.is_empty() {
        (query_fields, Fields::new())
    } else {
        (body_fields, query_fields)
    };
    if !query_fields.is_empty() {
        let body_keys: HashSet<String> = fields.keys().map(|k| k.to_ascii_lowercase()).collect();
        for (key, value) in query_fields {
            if body_keys.contains(&key.to_ascii_lowercase()) {
                warnings.push(format!(
                    "key {} is in both the query string and the body; the body's value is used",
                    quote(&key)
                ));
            } else {
                fields.insert(key, value);
            }
        }
    }
    if let Some(key) = fields.keys().nth(limits.max_fields) {
        return Err(DecodeError::TooManyFields {
            limit: limits.max_fields,
            key: quote(key),
        });
    }
    Ok(Decoded {
        fields,
        format,
        warnings: warnings.finish(),
    })
}

/// Some key or text value, at any depth, holds a NUL character.
fn fields_hold_nul(fields: &Fields) -> bool {
    fields
        .iter()
        .any(|(key, value)| key.contains('\0') || holds_nul(value))
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => fields_hold_nul(map),
        _ => false,
    }
}

/// The fields with every NUL removed from keys and text values, one warning per top-level key
/// that held one; the same map when none does. A key that becomes equal to another keeps the
/// later value, as a repeated key does.
fn without_nul(fields: Fields, warnings: &mut Warnings) -> Fields {
    if !fields_hold_nul(&fields) {
        return fields;
    }
    fn clean(value: Value) -> Value {
        match value {
            Value::String(text) if text.contains('\0') => Value::String(text.replace('\0', "")),
            Value::Array(items) => Value::Array(items.into_iter().map(clean).collect()),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(key, value)| (key.replace('\0', ""), clean(value)))
                    .collect(),
            ),
            other => other,
        }
    }
    let mut out = Fields::with_capacity(fields.len());
    for (key, value) in fields {
        if key.contains('\0') || holds_nul(&value) {
            let key = key.replace('\0', "");
            warnings.push(format!(
                "key {} held NUL characters, removed (the raw body keeps them)",
                quote(&key)
            ));
            out.insert(key, clean(value));
        } else {
            out.insert(key, value);
        }
    }
    out
}

#[derive(Default)]
struct Warnings {
    list: Vec<String>,
    dropped: usize,
}

impl Warnings {
    fn push(&mut self, warning: String) {
        if self.list.len() < MAX_WARNINGS {
            self.list.push(warning);
        } else {
            self.dropped += 1;
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.list
                .push(format!("{} more warnings were left out", self.dropped));
        }
        self.list
    }
}

/// At most [`QUOTE_BYTES`] of `text` (whole characters), escaped, with `…` when shortened.
fn shorten(text: &str) -> String {
    let mut end = text.len().min(QUOTE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let ellipsis = if end < text.len() { "…" } else { "" };
    format!("{}{ellipsis}", text[..end].escape_debug())
}

/// A piece of the input for a message, in double quotes: `"Payout"`.
fn quote(text: &str) -> String {
    format!("\"{}\"", shorten(text))
}

/// An element name for a message: `<Payout>`.
fn tag(name: &str) -> String {
    format!("<{}>", shorten(name))
}

/// Line (from 1) and column (bytes from the line's start, as serde_json counts) of the position
/// just before byte `offset`. For the byte at index `i`, pass `i + 1`.
fn line_column(text: &[u8], offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |newline| newline + 1);
    let line = 1 + before[..line_start].iter().filter(|&&b| b == b'\n').count();
    (line, offset - line_start)
}

/// The reverse of [`line_column`].
fn offset_of(text: &[u8], line: usize, column: usize) -> usize {
    let mut line_start = 0;
    let mut newlines = text
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'\n')
        .map(|(index, _)| index + 1);
    for _ in 1..line {
        match newlines.next() {
            Some(start) => line_start = start,
            None => return text.len(),
        }
    }
    line_start.saturating_add(column).min(text.len())
}

fn decode_pairs(
    text: &str,
    place: &'static str,
    warnings: &mut Warnings,
) -> Result<Fields, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(text).map_err(|error| {
        // serde_urlencoded's messages name no input, but stay safe.
        let mut reason = error.to_string();
        if reason.len() > 2 * QUOTE_BYTES {
            let mut end = 2 * QUOTE_BYTES;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        reason
    })?;
    Ok(collect_last_wins(
        pairs
            .into_iter()
            .map(|(key, value)| (key, Value::String(value))),
        |key| {
            format!(
                "key {} is repeated in {place}; the last value is used",
                quote(key)
            )
        },
        warnings,
    ))
}

/// Builds a map where a repeated key keeps its first position and its last value, with one
/// warning per repeated key.
fn collect_last_wins(
    pairs: impl IntoIterator<Item = (String, Value)>,
    warning: impl Fn(&str) -> String,
    warnings: &mut Warnings,
) -> Fields {
    let pairs = pairs.into_iter();
    let mut fields = Fields::with_capacity(pairs.size_hint().0);
    let mut repeated = HashSet::new();
    for (key, value) in pairs {
        if fields.contains_key(&key) && repeated.insert(key.clone()) {
            warnings.push(warning(&key));
        }
        fields.insert(key, value);
    }
    fields
}

/// What the content type declares.
enum Declared {
    Format(BodyFormat),
    /// No content type, or one that says nothing about the format.
    Nothing,
    /// A content type this module does not know; the body is sniffed.
    Unknown,
    /// A content type that cannot be read as a flat map of fields.
    Unsupported,
}

fn declared_format(content_type: Option<&str>) -> Declared {
    let Some(content_type) = content_type else {
        return Declared::Nothing;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "" | "text/plain" | "application/octet-stream" => Declared::Nothing,
        "application/json" | "text/json" => Declared::Format(BodyFormat::Json),
        "application/x-www-form-urlencoded" => Declared::Format(BodyFormat::Form),
        "application/xml" | "text/xml" => Declared::Format(BodyFormat::Xml),
        _ if essence.ends_with("+json") => Declared::Format(BodyFormat::Json),
        _ if essence.ends_with("+xml") => Declared::Format(BodyFormat::Xml),
        _ if essence.starts_with("multipart/") => Declared::Unsupported,
        _ => Declared::Unknown,
    }
}

/// The format the bytes look like: the first byte after whitespace and JSON-style comments.
fn sniff(text: &str) -> Option<BodyFormat> {
    match JsonText::new(text.as_bytes()).first() {
        Some(b'{' | b'[') => Some(BodyFormat::Json),
        Some(b'<') => Some(BodyFormat::Xml),
        _ if text.contains('=') => Some(BodyFormat::Form),
        _ => None,
    }
}

fn describe_content_type(content_type: Option<&str>) -> String {
    match content_type {
        Some(content_type) => format!("the content type {}", quote(content_type)),
        None => "no content type".to_owned(),
    }
}

fn decode_body(
    content_type: Option<&str>,
    body: &[u8],
    limits: &Limits,
    warnings: &mut Warnings,
) -> Result<(Fields, BodyFormat), DecodeError> {
    let text = std::str::from_utf8(body).map_err(|error| DecodeError::BodyNotUtf8 {
        offset: error.valid_up_to(),
    })?;
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => {
            warnings.push("removed a UTF-8 byte order mark at the start of the body".to_owned());
            rest
        }
        None => text,
    };
    if text.trim().is_empty() {
        return Ok((Fields::new(), BodyFormat::Empty));
    }

    let sniffed = sniff(text);
    let format = match declared_format(content_type) {
        Declared::Format(declared) => match sniffed {
            Some(sniffed) if sniffed != declared => {
                warnings.push(format!(
                    "{} disagrees with the body, which looks like {sniffed}; it was read as {sniffed}",
                    describe_content_type(content_type)
                ));
                sniffed
            }
            _ => declared,
        },
        Declared::Unsupported => {
            return Err(DecodeError::UnsupportedContentType {
                content_type: quote(content_type.unwrap_or("")),
            });
        }
        declared @ (Declared::Nothing | Declared::Unknown) => {
            let Some(sniffed) = sniffed else {
                return Err(DecodeError::UnrecognizedBody {
                    declared: match content_type {
                        Some(content_type) => {
                            format!(
                                "the content type {} does not say which",
                                quote(content_type)
                            )
                        }
                        None => "no content type was sent".to_owned(),
                    },
                });
            };
            if content_type.is_some() {
                let why = if matches!(declared, Declared::Unknown) {
                    "is not one this receiver reads"
                } else {
                    "does not say the format"
                };
                warnings.push(format!(
                    "{} {why}; the body was read as {sniffed} by its first bytes",
                    describe_content_type(content_type)
                ));
            }
            sniffed
        }
    };

    let fields = match format {
        BodyFormat::Json => decode_json(text, limits, warnings)?,
        BodyFormat::Form => decode_pairs(text, "the form body", warnings)
            .map_err(|reason| DecodeError::InvalidForm { reason })?,
        BodyFormat::Xml => decode_xml(text, limits, warnings)?,
        BodyFormat::Empty => Fields::new(),
    };
    Ok((fields, format))
}

// ---------------------------------------------------------------------------------------------
// JSON

/// JSON text as the repair sees it: strings, comments and everything else.
struct JsonText<'a> {
    bytes: &'a [u8],
    /// Where the last `*/` starts, so an unterminated `/*` is known without scanning to the end
    /// again (a body of many `/*` would otherwise take quadratic time).
    last_close: Option<usize>,
}

impl<'a> JsonText<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        let last_close = bytes.windows(2).rposition(|pair| pair == b"*/");
        JsonText { bytes, last_close }
    }

    /// The index just after the string literal starting at `start` (a `"`), or the end.
    fn string_end(&self, start: usize) -> usize {
        let bytes = self.bytes;
        let mut index = start + 1;
        while index < bytes.len() {
            match bytes[index] {
                b'\\' => index += 2,
                b'"' => return index + 1,
                _ => index += 1,
            }
        }
        bytes.len()
    }

    /// The index just after the comment starting at `start`, if one starts there. A `//`
    /// comment ends before its newline; an unterminated `/*` is not a comment (not repaired).
    fn comment_end(&self, start: usize) -> Option<usize> {
        let bytes = self.bytes;
        if bytes.get(start) != Some(&b'/') {
            return None;
        }
        let rest = bytes.get(start + 2..)?;
        match bytes.get(start + 1) {
            Some(b'/') => Some(
                rest.iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |newline| start + 2 + newline),
            ),
            Some(b'*') if self.last_close.is_some_and(|close| close >= start + 2) => rest
                .windows(2)
                .position(|pair| pair == b"*/")
                .map(|close| start + 2 + close + 2),
            _ => None,
        }
    }

    /// The index of the next byte that is neither JSON whitespace nor inside a comment.
    fn skip_blank(&self, mut index: usize) -> usize {
        loop {
            while matches!(self.bytes.get(index), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                index += 1;
            }
            match self.comment_end(index) {
                Some(end) => index = end,
                None => return index,
            }
        }
    }

    /// The first significant byte.
    fn first(&self) -> Option<u8> {
        self.bytes.get(self.skip_blank(0)).copied()
    }

    /// Where the nesting first goes deeper than `limit`, outside strings and comments.
    fn too_deep(&self, limit: usize) -> Option<usize> {
        let bytes = self.bytes;
        let mut depth = 0usize;
        let mut index = 0;
        while index < bytes.len() {
            match bytes[index] {
                b'"' => index = self.string_end(index),
                b'/' => index = self.comment_end(index).unwrap_or(index + 1),
                b'{' | b'[' => {
                    depth += 1;
                    if depth > limit {
                        return Some(index);
                    }
                    index += 1;
                }
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    index += 1;
                }
                _ => index += 1,
            }
        }
        None
    }
}

/// Line and column of increasing offsets in one text, in linear time overall.
struct Lines<'a> {
    bytes: &'a [u8],
    scanned: usize,
    line: usize,
    line_start: usize,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Lines {
            bytes,
            scanned: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// Like [`line_column`], for offsets that never decrease.
    fn at(&mut self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.bytes.len()).max(self.scanned);
        for (index, &byte) in self.bytes[self.scanned..offset].iter().enumerate() {
            if byte == b'\n' {
                self.line += 1;
                self.line_start = self.scanned + index + 1;
            }
        }
        self.scanned = offset;
        (self.line, offset - self.line_start)
    }
}

/// The top-level object as ordered pairs, so repeated keys can be noticed.
struct TopLevel(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TopLevelVisitor;
        impl<'de> Visitor<'de> for TopLevelVisitor {
            type Value = TopLevel;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
                let mut pairs = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value::<Value>()?;
                    pairs.push((key, value));
                }
                Ok(TopLevel(pairs))
            }
        }
        deserializer.deserialize_map(TopLevelVisitor)
    }
}

/// What a non-object top level is, by its first significant byte.
fn json_kind(text: &str) -> &'static str {
    match JsonText::new(text.as_bytes()).first() {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "true or false",
        Some(b'n') => "null",
        Some(b'-' | b'0'..=b'9') => "a number",
        _ => "not an object",
    }
}

/// serde_json's message without its " at line L column C" tail.
fn json_reason(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_owned(),
        None => message,
    }
}

fn decode_json(
    text: &str,
    limits: &Limits,
    warnings: &mut Warnings,
) -> Result<Fields, DecodeError> {
    let limit = limits.max_depth.min(DEPTH_CEILING);
    let bytes = text.as_bytes();
    if let Some(at) = JsonText::new(bytes).too_deep(limit) {
        let (line, column) = line_column(bytes, at + 1);
        return Err(DecodeError::TooDeep {
            format: BodyFormat::Json,
            limit,
            line,
            column,
        });
    }

    let first_error = match serde_json::from_str::<TopLevel>(text) {
        Ok(top) => return Ok(json_fields(top, warnings)),
        Err(error) => error,
    };
    if first_error.is_data() {
        return Err(DecodeError::JsonNotAnObject {
            found: json_kind(text),
        });
    }
    let repair = repair_json(text);
    if repair.warnings.is_empty() {
        return Err(DecodeError::InvalidJson {
            line: first_error.line(),
            column: first_error.column(),
            reason: json_reason(&first_error),
        });
    }
    match serde_json::from_str::<TopLevel>(&repair.text) {
        Ok(top) => {
            for warning in repair.warnings {
                warnings.push(warning);
            }
            Ok(json_fields(top, warnings))
        }
        Err(error) if error.is_data() => Err(DecodeError::JsonNotAnObject {
            found: json_kind(&repair.text),
        }),
        Err(error) => {
            // Report the position in the text as it arrived, not as repaired.
            let repaired_offset = offset_of(repair.text.as_bytes(), error.line(), error.column());
            let (line, column) = line_column(bytes, repair.original_offset(repaired_offset));
            Err(DecodeError::InvalidJson {
                line,
                column,
                reason: json_reason(&error),
            })
        }
    }
}

fn json_fields(top: TopLevel, warnings: &mut Warnings) -> Fields {
    collect_last_wins(
        top.0,
        |key| {
            format!(
                "key {} is repeated in the JSON body; the last value is used",
                quote(key)
            )
        },
        warnings,
    )
}

/// A key's string literal (quotes included) for a message, decoded when it is short enough to be
/// a key at all: a key is quoted at every empty value, so a huge literal must not be decoded again
/// and again.
fn key_name(literal: &str) -> String {
    if literal.len() <= 4 * QUOTE_BYTES
        && let Ok(key) = serde_json::from_str::<String>(literal)
    {
        return quote(&key);
    }
    let inner = literal.strip_prefix('"').unwrap_or(literal);
    let mut end = inner.len().min(QUOTE_BYTES + 1);
    while !inner.is_char_boundary(end) {
        end -= 1;
    }
    quote(inner[..end].strip_suffix('"').unwrap_or(&inner[..end]))
}

/// JSON text with the unambiguous template mistakes repaired.
struct Repair {
    text: String,
    /// Where `null` (4 bytes) was inserted, as offsets in the repaired text, ascending.
    insertions: Vec<usize>,
    warnings: Vec<String>,
}

const NULL: &[u8] = b"null";

impl Repair {
    /// Maps an offset in the repaired text back to the text as it arrived. Comments and trailing
    /// commas were blanked byte for byte, so only the inserted `null`s shift positions.
    fn original_offset(&self, repaired: usize) -> usize {
        let mut shift = 0;
        for &at in &self.insertions {
            if repaired >= at + NULL.len() {
                shift += NULL.len();
            } else if repaired > at {
                shift += repaired - at;
            } else {
                break;
            }
        }
        repaired - shift
    }
}

/// Blanks comments and trailing commas and reads an empty value as `null`, never looking inside
/// strings. Positions are kept: blanked bytes become spaces (newlines stay), and each inserted
/// `null` is recorded so errors can be reported where the partner will look.
fn repair_json(text: &str) -> Repair {
    let bytes = text.as_bytes();
    let json = JsonText::new(bytes);
    let mut lines = Lines::new(bytes);
    let mut out = Vec::with_capacity(bytes.len() + 16);
    let mut insertions = Vec::new();
    let mut warnings = Vec::new();
    let mut comments = 0usize;
    let mut first_comment_line = 0;
    let mut last_string = None;
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte == b'"' {
            let end = json.string_end(index);
            out.extend_from_slice(&bytes[index..end]);
            last_string = Some((index, end));
            index = end;
        } else if let Some(end) = json.comment_end(index) {
            if comments == 0 {
                first_comment_line = lines.at(index + 1).0;
            }
            comments += 1;
            out.extend(
                bytes[index..end]
                    .iter()
                    .map(|&b| if b == b'\n' { b'\n' } else { b' ' }),
            );
            index = end;
        } else if byte == b',' {
            let next = json.skip_blank(index + 1);
            if let Some(&close @ (b'}' | b']')) = bytes.get(next) {
                let (line, column) = lines.at(index + 1);
                warnings.push(format!(
                    "repaired: trailing comma before \"{}\" at line {line}, column {column} removed",
                    close as char
                ));
                out.push(b' ');
            } else {
                out.push(b',');
            }
            index += 1;
        } else if byte == b':' {
            out.push(b':');
            let next = json.skip_blank(index + 1);
            if matches!(bytes.get(next), None | Some(b',' | b'}')) {
                let key = match last_string {
                    Some((start, end)) => key_name(&text[start..end]),
                    None => "a key".to_owned(),
                };
                let line = lines.at(index + 1).0;
                warnings.push(format!(
                    "repaired: empty value for {key} at line {line} read as absent"
                ));
                insertions.push(out.len());
                out.extend_from_slice(NULL);
            }
            index += 1;
        } else {
            out.push(byte);
            index += 1;
        }
    }
    if comments > 0 {
        let warning = if comments == 1 {
            format!("repaired: 1 comment removed (at line {first_comment_line})")
        } else {
            format!(
                "repaired: {comments} comments removed (the first at line {first_comment_line})"
            )
        };
        warnings.insert(0, warning);
    }
    // Only whole characters were replaced (comments and strings end on ASCII bytes), so this is
    // still UTF-8; the lossy fallback only keeps the function total.
    let text = String::from_utf8(out)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned());
    Repair {
        text,
        insertions,
        warnings,
    }
}

// ---------------------------------------------------------------------------------------------
// XML

/// An element being read: its name, its text so far and its finished children.
struct Element {
    name: String,
    text: String,
    children: Vec<(String, Value)>,
}

impl Element {
    fn new(name: String) -> Self {
        Element {
            name,
            text: String::new(),
            children: Vec::new(),
        }
    }

    /// A leaf is its text; a parent is an array when its children all share one name and either
    /// repeat or are named for it (`<items><item>…</item></items>`), else an object.
    fn into_value(self, warnings: &mut Warnings) -> Value {
        let Some((first, _)) = self.children.first() else {
            return Value::String(self.text);
        };
        self.warn_about_mixed_text(warnings);
        let same_name = self.children.iter().all(|(name, _)| name == first);
        if same_name && (self.children.len() > 1 || is_plural_of(&self.name, first)) {
            return Value::Array(self.children.into_iter().map(|(_, value)| value).collect());
        }
        let parent = self.name;
        Value::Object(collect_last_wins(
            self.children,
            |name| {
                format!(
                    "element {} is repeated inside {}; the last one is used",
                    tag(name),
                    tag(&parent)
                )
            },
            warnings,
        ))
    }
}

impl Element {
    /// Text beside child elements (other than indentation) is not a field; say it was dropped.
    fn warn_about_mixed_text(&self, warnings: &mut Warnings) {
        if !self.text.trim().is_empty() {
            warnings.push(format!(
                "text beside the child elements of {} was ignored",
                tag(&self.name)
            ));
        }
    }
}

fn is_plural_of(parent: &str, child: &str) -> bool {
    let parent = parent.to_ascii_lowercase();
    let child = child.to_ascii_lowercase();
    let singular_y = child
        .strip_suffix('y')
        .is_some_and(|stem| parent == format!("{stem}ies"));
    singular_y
        || parent == format!("{child}s")
        || parent == format!("{child}es")
        || parent == format!("{child}list")
}

fn xml_reason(error: &quick_xml::Error) -> String {
    match error {
        quick_xml::Error::Syntax(syntax) => syntax.to_string(),
        quick_xml::Error::IllFormed(ill_formed) => match ill_formed {
            IllFormedError::MismatchedEndTag { expected, found } => {
                format!(
                    "expected the end of {} but found the end of {}",
                    tag(expected),
                    tag(found)
                )
            }
            IllFormedError::UnmatchedEndTag(name) => {
                format!("the end tag of {} matches no open element", tag(name))
            }
            IllFormedError::MissingEndTag(name) => {
                format!("element {} is not closed", tag(name))
            }
            IllFormedError::MissingDeclVersion(_) => {
                "the XML declaration does not start with its version".to_owned()
            }
            IllFormedError::MissingDoctypeName => "the DOCTYPE has no name".to_owned(),
            IllFormedError::DoubleHyphenInComment => "a comment contains \"--\"".to_owned(),
            IllFormedError::UnclosedReference => {
                "an \"&\" is not followed by an entity name and \";\"".to_owned()
            }
        },
        quick_xml::Error::Escape(_) => "an invalid character or entity reference".to_owned(),
        quick_xml::Error::Encoding(_) => "text that is not valid UTF-8".to_owned(),
        quick_xml::Error::InvalidAttr(_) => "a malformed attribute".to_owned(),
        quick_xml::Error::Namespace(_) => "an undeclared or invalid namespace".to_owned(),
        quick_xml::Error::Io(_) => "a read failure".to_owned(),
    }
}

fn decode_xml(text: &str, limits: &Limits, warnings: &mut Warnings) -> Result<Fields, DecodeError> {
    let limit = limits.max_depth.min(DEPTH_CEILING);
    let bytes = text.as_bytes();
    let invalid = |at: usize, reason: String| {
        let (line, column) = line_column(bytes, at + 1);
        DecodeError::InvalidXml {
            line,
            column,
            reason,
        }
    };

    let mut reader = quick_xml::Reader::from_str(text);
    let mut open: Vec<Element> = Vec::new();
    let mut root: Option<Fields> = None;
    loop {
        let at = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_event().map_err(|error| {
            let position = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
            invalid(position, xml_reason(&error))
        })?;
        let (start, empty) = match event {
            Event::Start(start) => (start, false),
            Event::Empty(start) => (start, true),
            Event::End(_) => {
                let Some(element) = open.pop() else {
                    return Err(invalid(at, "an end tag matches no open element".to_owned()));
                };
                close(element, &mut open, &mut root, warnings);
                continue;
            }
            Event::Text(chunk) => {
                let content = chunk
                    .xml10_content()
                    .map_err(|_| invalid(at, "text that is not valid UTF-8".to_owned()))?;
                append_text(&mut open, &content, || {
                    invalid(at, "text outside the root element".to_owned())
                })?;
                continue;
            }
            Event::CData(cdata) => {
                let content = cdata
                    .xml10_content()
                    .map_err(|_| invalid(at, "CDATA that is not valid UTF-8".to_owned()))?;
                append_text(&mut open, &content, || {
                    invalid(at, "CDATA outside the root element".to_owned())
                })?;
                continue;
            }
            Event::GeneralRef(reference) => {
                let name = reference
                    .decode()
                    .map_err(|_| invalid(at, "a reference that is not valid UTF-8".to_owned()))?;
                let resolved = if name.starts_with('#') {
                    match reference.resolve_char_ref() {
                        Ok(Some(character)) => character,
                        _ => {
                            return Err(invalid(at, "an invalid character reference".to_owned()));
                        }
                    }
                } else {
                    match name.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        _ => {
                            let (line, column) = line_column(bytes, at + 1);
                            return Err(DecodeError::UnknownXmlEntity {
                                line,
                                column,
                                entity: format!("&{};", shorten(&name)),
                            });
                        }
                    }
                };
                let mut buffer = [0u8; 4];
                append_text(&mut open, resolved.encode_utf8(&mut buffer), || {
                    invalid(at, "a reference outside the root element".to_owned())
                })?;
                continue;
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => continue,
        };

        if root.is_some() {
            return Err(invalid(at, "a second root element".to_owned()));
        }
        // An element at level L (the root is 1) makes its parent a container at depth L - 1;
        // the root itself is the top-level object, depth 1.
        let level = open.len() + 1;
        if (level - 1).max(1) > limit {
            let (line, column) = line_column(bytes, at + 1);
            return Err(DecodeError::TooDeep {
                format: BodyFormat::Xml,
                limit,
                line,
                column,
            });
        }
        let name = std::str::from_utf8(start.name().as_ref())
            .map_err(|_| invalid(at, "an element name that is not valid UTF-8".to_owned()))?
            .to_owned();
        if name.is_empty() {
            return Err(invalid(at, "an element without a name".to_owned()));
        }
        let element = Element::new(name);
        if empty {
            close(element, &mut open, &mut root, warnings);
        } else {
            open.push(element);
        }
    }

    if let Some(element) = open.last() {
        return Err(invalid(
            bytes.len().saturating_sub(1),
            format!(
                "the body ends before element {} is closed",
                tag(&element.name)
            ),
        ));
    }
    root.ok_or(DecodeError::XmlNoRoot)
}

/// Text goes to the innermost open element; outside the root only whitespace is allowed.
fn append_text(
    open: &mut [Element],
    content: &str,
    outside: impl FnOnce() -> DecodeError,
) -> Result<(), DecodeError> {
    match open.last_mut() {
        Some(element) => element.text.push_str(content),
        None if content.trim().is_empty() => {}
        None => return Err(outside()),
    }
    Ok(())
}

fn close(
    element: Element,
    open: &mut [Element],
    root: &mut Option<Fields>,
    warnings: &mut Warnings,
) {
    match open.last_mut() {
        Some(parent) => {
            let name = element.name.clone();
            let value = element.into_value(warnings);
            parent.children.push((name, value));
        }
        None => {
            if element.children.is_empty() {
                warnings.push(format!(
                    "the XML root element {} has no child elements, so no fields were read from it",
                    tag(&element.name)
                ));
            } else {
                element.warn_about_mixed_text(warnings);
            }
            *root = Some(collect_last_wins(
                element.children,
                |name| {
                    format!(
                        "element {} is repeated in the XML body; the last one is used",
                        tag(name)
                    )
                },
                warnings,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ACTION_LIFECYCLE_JSON: &str = r#"// A POST example in JSON format
{
  "CampaignId": 9876, // Program ID
  "ActionTrackerId": 12345, // Event Type ID
  "MediaPartnerId": 555, // Partner ID
  "CampaignName": "Spring Global Promotion", // Program Name
  "ActionTrackerName": "Standard Sale Tracker", // Event Type Name
  "MediaPartnerName": "Top Tier Affiliates", // Partner Name
  "ActionId": "ACT-778899", // Action ID
  "Status": "MODIFIED", // Action Status
  "StatusDetail": "Item return - payout adjusted", // More details about the action status
  "AdId": 44332, // Ad ID
  "Payout": 10.50, // Action payout to the Partner, in the partner's currency
  "DeltaPayout": -5.00, // The change of the Payout Amount
  "IntendedPayout": 15.50, // The intended Payout Amount for an overlimit action
  "Amount": 100.00, // Action amount, in the account's currency
  "DeltaAmount": -50.00, // Corrected Amount from previous action
  "IntendedAmount": 150.00, // The intended Sale Amount for an overlimit action
  "Currency": "USD", // Currency for the action
  "OriginalCurrency": "USD", // Original (i.e. cart) currency for the action
  "OriginalAmount": 100.00, // Original (i.e. cart) amount for the action
  // "items" collection: Data for individual items in this action
  "items": [{"sku":"SKU-1","item_price":10.00,"category":"Shoes","quantity":1,"cartamt":10.00,"rbt":"0","name":"Runner"}],
  "EventDate": "2026-04-08T09:00:00Z", // Date of conversion
  "CreationDate": "2026-04-08T09:05:00Z", // Date created in system
  "LockingDate": "2026-05-08T00:00:00Z", // Date action will be locked
  "ClearedDate": "2026-05-15T00:00:00Z", // Date scheduled to clear
  "ReferringDomain": "blog.partner.com", // Domain of referral
  "LandingPageUrl": "https://brand.com/sale", // URL of landing page
  "RefCustomerArea": "California", // Customer Area (IP derived)
  "RefCustomerCity": "San Francisco", // Customer City (IP derived)
  "RefCustomerRegion": "CA", // Customer Region (IP derived)
  "RefCustomerCountry": "US", // Customer Country Code (IP derived)
  "RefClickId": "CLK9988776655", // Unique click identifier
  "SharedId": "social_post_01", // Partner shared ID
  "PromoCode": "SAVE20", // General promo code
  "CustomerStatus": "EXISTING", // Customer status
  "Oid": "ORD-554433", // Order ID
  "Note": "Partial return processed", // Note supplied with action
  "CustomerPostCode": "94105", // Customer Post Code
  "CustomerCity": "San Francisco", // Customer City
  "CustomerCountry": "US", // Customer Country Code
  "CustomerRegion": "CA", // Customer Region
  "CustomerId": "CUST-12345", // Customer ID
  "CustomerEmail": "a665a45920422f9d417...", // Hashed Customer Email
  "IpAddress": "192.168.1.1", // IP Address
  "CallerId": null, // Phone number of the caller
  // Custom Supplemental Fields
  "Text1": "Custom Val 1", // Text 1
  "Date1": "2026-04-08", // Date 1
  "Money1": 10.00, // Money 1
  "Numeric1": 1, // Numeric 1
  // Device & App Metadata
  "appPackage": "com.brand.app", // Mobile app package
  "appName": "BrandStore", // Mobile app name
  "appVersion": "4.2.1", // Mobile app version
  "deviceOs": "iOS", // Device operating system
  "deviceOsVersion": "17.4", // Device OS version
  "deviceManuf": "Apple", // Device manufacturer
  "deviceModel": "iPhone 15", // Device model
  "macAddress": "00:1B:44:11:3A:B7", // MAC Address (Upper)
  "macAddressLower": "00:1b:44:11:3a:b7", // MAC Address (Lower)
  "macAddressAlpha": "001B44113AB7", // MAC Address (No colons)
  "macAddressSha1": "47a32...", // MAC SHA1
  "iosIfa": "EA7583CD-A667-48BC-B806-42ECB2B48606", // iOS Advertising ID
  "iosAdTracking": "1", // iOS Ad Tracking setting
  "androidId": null, // Android ID
  "deviceId": "D-556677", // Device ID
  "deviceIp": "192.168.1.1" // Device IP
}
"#;

    const JSON: Option<&str> = Some("application/json");
    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
    const XML: Option<&str> = Some("application/xml");

    fn decode_ok(query: &str, content_type: Option<&str>, body: &str) -> Decoded {
        match decode(query, content_type, body.as_bytes(), &Limits::default()) {
            Ok(decoded) => decoded,
            Err(error) => panic!("decode failed: {error}"),
        }
    }

    fn decode_err(
        query: &str,
        content_type: Option<&str>,
        body: &[u8],
        limits: &Limits,
    ) -> DecodeError {
        match decode(query, content_type, body, limits) {
            Ok(decoded) => panic!("decode succeeded: {decoded:?}"),
            Err(error) => error,
        }
    }

    fn text<'a>(decoded: &'a Decoded, key: &str) -> &'a str {
        decoded
            .fields
            .get(key)
            .and_then(field_text)
            .unwrap_or_else(|| panic!("no scalar field {key} in {:?}", decoded.fields))
    }

    /// Nesting of a value, scalars 0, `[]` and `{}` 1, without recursion.
    fn depth(value: &Value) -> usize {
        let mut deepest = 0;
        let mut pending = vec![(value, 0usize)];
        while let Some((value, above)) = pending.pop() {
            match value {
                Value::Array(items) => {
                    deepest = deepest.max(above + 1);
                    pending.extend(items.iter().map(|item| (item, above + 1)));
                }
                Value::Object(map) => {
                    deepest = deepest.max(above + 1);
                    pending.extend(map.values().map(|item| (item, above + 1)));
                }
                _ => deepest = deepest.max(above),
            }
        }
        deepest
    }

    #[test]
    fn the_action_lifecycle_help_page_example_with_its_comments_decodes_with_a_warning() {
        let decoded = decode_ok("", JSON, ACTION_LIFECYCLE_JSON);
        assert_eq!(decoded.format, BodyFormat::Json);
        assert_eq!(
            decoded.warnings,
            vec!["repaired: 67 comments removed (the first at line 1)".to_owned()]
        );
        assert_eq!(text(&decoded, "Payout"), "10.50");
        assert_eq!(text(&decoded, "DeltaPayout"), "-5.00");
        assert_eq!(text(&decoded, "Money1"), "10.00");
        assert_eq!(text(&decoded, "ActionId"), "ACT-778899");
        assert_eq!(text(&decoded, "LandingPageUrl"), "https://brand.com/sale");
        assert_eq!(decoded.fields["CallerId"], Value::Null);
        assert_eq!(
            decoded.fields.keys().next().map(String::as_str),
            Some("CampaignId")
        );
        assert_eq!(decoded.fields.len(), 64);

        let items = decoded.fields["items"]
            .as_array()
            .expect("items is an array");
        assert_eq!(items.len(), 1);
        let item = items[0].as_object().expect("an item is an object");
        assert_eq!(item["sku"], Value::String("SKU-1".to_owned()));
        assert_eq!(field_text(&item["item_price"]), Some("10.00"));
    }

    #[test]
    fn the_same_event_as_json_form_xml_and_get_query_gives_the_same_values() {
        let json = decode_ok(
            "",
            JSON,
            r#"{"ActionId": "1000.4636.158133", "Payout": 10.50, "Status": "PENDING"}"#,
        );
        let form = decode_ok(
            "",
            FORM,
            "ActionId=1000.4636.158133&Payout=10.50&Status=PENDING",
        );
        let xml = decode_ok(
            "",
            XML,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Action>\n  <ActionId>1000.4636.158133</ActionId>\n  \
             <Payout>10.50</Payout>\n  <Status><![CDATA[PENDING]]></Status>\n</Action>\n",
        );
        let get = decode_ok(
            "ActionId=1000.4636.158133&Payout=10.50&Status=PENDING",
            None,
            "",
        );

        assert_eq!(
            [json.format, form.format, xml.format, get.format],
            [
                BodyFormat::Json,
                BodyFormat::Form,
                BodyFormat::Xml,
                BodyFormat::Empty
            ]
        );
        for decoded in [&json, &form, &xml, &get] {
            assert_eq!(text(decoded, "ActionId"), "1000.4636.158133");
            assert_eq!(text(decoded, "Payout"), "10.50");
            assert_eq!(text(decoded, "Status"), "PENDING");
            assert_eq!(decoded.fields.len(), 3);
            assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
        }
    }

    #[test]
    fn an_empty_json_value_is_repaired_as_null_with_a_warning_naming_the_key() {
        let decoded = decode_ok(
            "",
            JSON,
            "{\n  \"ActionId\": \"A-1\",\n  \"Payout\": ,\n  \"Status\": \"PENDING\"\n}",
        );
        assert_eq!(decoded.fields["Payout"], Value::Null);
        assert_eq!(text(&decoded, "Status"), "PENDING");
        assert_eq!(
            decoded.warnings,
            vec!["repaired: empty value for \"Payout\" at line 3 read as absent".to_owned()]
        );
    }

    #[test]
    fn an_empty_json_value_before_the_closing_brace_is_repaired() {
        let decoded = decode_ok("", JSON, "{\"ActionId\": \"A-1\", \"Payout\":\n}");
        assert_eq!(decoded.fields["Payout"], Value::Null);
        assert_eq!(decoded.warnings.len(), 1);
    }

    #[test]
    fn a_trailing_comma_is_repaired() {
        let decoded = decode_ok("", JSON, "{\"ActionId\": \"A-1\", \"items\": [1, 2,],\n}");
        assert_eq!(text(&decoded, "ActionId"), "A-1");
        assert_eq!(decoded.fields["items"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            decoded.warnings,
            vec![
                "repaired: trailing comma before \"]\" at line 1, column 35 removed".to_owned(),
                "repaired: trailing comma before \"}\" at line 1, column 37 removed".to_owned(),
            ]
        );
    }

    #[test]
    fn an_empty_value_and_a_trailing_comma_together_are_both_repaired() {
        let decoded = decode_ok("", JSON, "{\"ActionId\": \"A-1\", \"Payout\": ,}");
        assert_eq!(decoded.fields["Payout"], Value::Null);
        assert_eq!(decoded.warnings.len(), 2);
    }

    #[test]
    fn commas_comments_and_quotes_inside_strings_are_untouched_by_repair() {
        let body = r#"{"ActionIds": "ACT-101,ACT-102,}", "Url": "https://x.example/a//b", "Note": "say \"hi\", /* not */ // no", "Payout": ,}"#;
        let decoded = decode_ok("", JSON, body);
        assert_eq!(text(&decoded, "ActionIds"), "ACT-101,ACT-102,}");
        assert_eq!(text(&decoded, "Url"), "https://x.example/a//b");
        assert_eq!(text(&decoded, "Note"), "say \"hi\", /* not */ // no");
        assert_eq!(decoded.fields["Payout"], Value::Null);
    }

    #[test]
    fn block_comments_are_removed() {
        let decoded = decode_ok("", JSON, "{ /* id */ \"ActionId\": /* x */ \"A-1\" }");
        assert_eq!(text(&decoded, "ActionId"), "A-1");
        assert_eq!(
            decoded.warnings,
            vec!["repaired: 2 comments removed (the first at line 1)".to_owned()]
        );
    }

    #[test]
    fn valid_json_is_not_repaired_even_when_it_looks_repairable_inside_strings() {
        let decoded = decode_ok("", JSON, r#"{"Note": "a: , }", "Payout": "1.00"}"#);
        assert!(decoded.warnings.is_empty());
        assert_eq!(text(&decoded, "Note"), "a: , }");
    }

    #[test]
    fn invalid_json_is_an_error_naming_line_and_column() {
        let error = decode_err("", JSON, br#"{"a": tru}"#, &Limits::default());
        assert_eq!(
            error,
            DecodeError::InvalidJson {
                line: 1,
                column: 10,
                reason: "expected ident".to_owned()
            }
        );
        assert_eq!(
            error.to_string(),
            "the JSON body is not valid JSON at line 1, column 10: expected ident"
        );
    }

    #[test]
    fn an_error_after_a_repair_is_reported_where_it_is_in_the_body_as_sent() {
        // The empty value is repaired (a `null` inserted) but the unreplaced placeholder is not:
        // its position must not move by the inserted text.
        let body = "{\"Payout\": ,\n \"Status\": {Status}}";
        let error = decode_err("", JSON, body.as_bytes(), &Limits::default());
        let unrepaired = serde_json::from_str::<Value>("{\"Payout\": 1,\n \"Status\": {Status}}")
            .expect_err("a placeholder is not JSON");
        assert_eq!(
            error,
            DecodeError::InvalidJson {
                line: 2,
                column: unrepaired.column(),
                reason: "key must be a string".to_owned()
            }
        );
    }

    #[test]
    fn the_unexpanded_items_template_from_the_help_page_is_an_error() {
        let body = "{\"ActionId\": \"A-1\",\n  \"items\": [{join(items, i, \"\\{\\\"sku\\\":\\\"{i.sku}\\\"\\}\")}]\n}";
        let error = decode_err("", JSON, body.as_bytes(), &Limits::default());
        assert!(
            matches!(error, DecodeError::InvalidJson { line: 2, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn a_json_array_at_the_top_level_is_an_error() {
        let error = decode_err("", JSON, br#"[{"ActionId": "A-1"}]"#, &Limits::default());
        assert_eq!(error, DecodeError::JsonNotAnObject { found: "an array" });
        assert_eq!(
            error.to_string(),
            "the JSON body's top level is an array, not an object of fields"
        );
        let error = decode_err("", JSON, b"// c\n\"A-1\"", &Limits::default());
        assert_eq!(error, DecodeError::JsonNotAnObject { found: "a string" });
    }

    #[test]
    fn json_nested_deeper_than_the_limit_is_an_error_with_its_position() {
        let limits = Limits {
            max_fields: 512,
            max_depth: 2,
        };
        let decoded = decode("", JSON, br#"{"items": [1]}"#, &limits).expect("depth 2 is allowed");
        assert_eq!(decoded.fields.len(), 1);
        let error = decode_err("", JSON, br#"{"items": [{"sku": 1}]}"#, &limits);
        assert_eq!(
            error,
            DecodeError::TooDeep {
                format: BodyFormat::Json,
                limit: 2,
                line: 1,
                column: 12
            }
        );
    }

    #[test]
    fn a_json_depth_bomb_is_refused_without_overflowing_the_stack() {
        let body = format!("{{\"a\": {}{}}}", "[".repeat(200_000), "]".repeat(200_000));
        let error = decode_err("", JSON, body.as_bytes(), &Limits::default());
        assert!(
            matches!(error, DecodeError::TooDeep { limit: 16, .. }),
            "{error:?}"
        );

        let unlimited = Limits {
            max_fields: 512,
            max_depth: usize::MAX,
        };
        let error = decode_err("", JSON, body.as_bytes(), &unlimited);
        assert!(
            matches!(
                error,
                DecodeError::TooDeep {
                    limit: DEPTH_CEILING,
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn more_fields_than_the_limit_is_an_error_counting_query_and_body_together() {
        let limits = Limits {
            max_fields: 3,
            max_depth: 16,
        };
        let decoded =
            decode("a=1&b=2", JSON, br#"{"a": "x", "c": 3}"#, &limits).expect("3 distinct keys");
        assert_eq!(decoded.fields.len(), 3);

        let error = decode_err("a=1&b=2&d=4", JSON, br#"{"a": "x", "c": 3}"#, &limits);
        assert_eq!(
            error,
            DecodeError::TooManyFields {
                limit: 3,
                key: "\"d\"".to_owned()
            }
        );
        assert_eq!(
            error.to_string(),
            "the postback has more than 3 fields (query string and body together); \"d\" is beyond the limit"
        );
    }

    #[test]
    fn errors_quote_at_most_forty_bytes_of_the_input() {
        let limits = Limits {
            max_fields: 0,
            max_depth: 16,
        };
        let key = "K".repeat(10_000);
        let error = decode_err(&format!("{key}=1"), None, b"", &limits);
        assert_eq!(
            error,
            DecodeError::TooManyFields {
                limit: 0,
                key: format!("\"{}…\"", "K".repeat(40))
            }
        );
        let name = "é".repeat(1_000);
        let body = format!("<{name}><a>1</b></{name}>");
        let error = decode_err("", XML, body.as_bytes(), &Limits::default());
        assert!(error.to_string().len() < 200, "{error}");
    }

    #[test]
    fn the_query_is_merged_under_the_body() {
        let decoded = decode_ok(
            "ActionId=from-query&SubId1=abc",
            JSON,
            r#"{"ActionId": "from-body", "Payout": "1.00"}"#,
        );
        assert_eq!(text(&decoded, "ActionId"), "from-body");
        assert_eq!(text(&decoded, "SubId1"), "abc");
        assert_eq!(text(&decoded, "Payout"), "1.00");
        assert_eq!(
            decoded
                .fields
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["ActionId", "Payout", "SubId1"]
        );
        assert_eq!(
            decoded.warnings,
            vec![
                "key \"ActionId\" is in both the query string and the body; the body's value is used"
                    .to_owned()
            ]
        );
    }

    #[test]
    fn a_query_key_in_another_case_never_overrides_the_body() {
        let decoded = decode_ok(
            "PAYOUT=99999.00&status=APPROVED&SubId1=abc",
            JSON,
            r#"{"ActionId": "A1", "Payout": "1.00", "Status": "PENDING"}"#,
        );
        assert_eq!(text(&decoded, "Payout"), "1.00");
        assert_eq!(text(&decoded, "Status"), "PENDING");
        assert!(!decoded.fields.contains_key("PAYOUT"));
        assert!(!decoded.fields.contains_key("status"));
        assert_eq!(text(&decoded, "SubId1"), "abc");
        assert_eq!(decoded.warnings.len(), 2, "{:?}", decoded.warnings);
    }

    #[test]
    fn nul_characters_are_removed_from_keys_and_values_with_a_warning() {
        let decoded = decode_ok(
            "Note=x%00y",
            JSON,
            "{\"Campaign\\u0000Name\": \"a\\u0000b\", \"Items\": [{\"Sku\": \"\\u0000\"}]}",
        );
        assert_eq!(text(&decoded, "CampaignName"), "ab");
        assert_eq!(text(&decoded, "Note"), "xy");
        assert_eq!(decoded.fields["Items"][0]["Sku"], "");
        assert!(!fields_hold_nul(&decoded.fields));
        assert_eq!(decoded.warnings.len(), 3, "{:?}", decoded.warnings);
        assert!(decoded.warnings.iter().all(|w| !w.contains('\0')));
    }

    #[test]
    fn a_repeated_query_key_keeps_the_last_value_with_a_warning() {
        let decoded = decode_ok(
            "Status=PENDING&Status=APPROVED&Status=REVERSED&Note=a+b%26c",
            None,
            "",
        );
        assert_eq!(text(&decoded, "Status"), "REVERSED");
        assert_eq!(text(&decoded, "Note"), "a b&c");
        assert_eq!(
            decoded.warnings,
            vec![
                "key \"Status\" is repeated in the query string; the last value is used".to_owned()
            ]
        );
    }

    #[test]
    fn a_content_type_with_a_charset_is_understood() {
        let decoded = decode_ok(
            "",
            Some("Application/JSON; charset=utf-8"),
            r#"{"ActionId": "A-1"}"#,
        );
        assert_eq!(decoded.format, BodyFormat::Json);
        assert!(decoded.warnings.is_empty());
        let decoded = decode_ok(
            "",
            Some("text/xml;charset=UTF-8"),
            "<a><ActionId>A-1</ActionId></a>",
        );
        assert_eq!(decoded.format, BodyFormat::Xml);
        let decoded = decode_ok(
            "",
            Some("application/vnd.impact+json"),
            r#"{"ActionId": "A-1"}"#,
        );
        assert_eq!(decoded.format, BodyFormat::Json);
    }

    #[test]
    fn a_json_body_sent_as_form_is_sniffed_as_json_with_a_warning() {
        let decoded = decode_ok("", FORM, "  {\"ActionId\": \"A-1\", \"Payout\": 2.50}");
        assert_eq!(decoded.format, BodyFormat::Json);
        assert_eq!(text(&decoded, "Payout"), "2.50");
        assert_eq!(
            decoded.warnings,
            vec![
                "the content type \"application/x-www-form-urlencoded\" disagrees with the body, \
                 which looks like JSON; it was read as JSON"
                    .to_owned()
            ]
        );
    }

    #[test]
    fn a_body_without_a_content_type_is_sniffed() {
        let decoded = decode_ok("", None, ACTION_LIFECYCLE_JSON);
        assert_eq!(decoded.format, BodyFormat::Json);
        assert_eq!(decoded.warnings.len(), 1);
        let decoded = decode_ok("", Some("text/plain"), "ActionId=A-1");
        assert_eq!(decoded.format, BodyFormat::Form);
        assert_eq!(
            decoded.warnings,
            vec![
                "the content type \"text/plain\" does not say the format; the body was read as form by its first bytes"
                    .to_owned()
            ]
        );
        let decoded = decode_ok("", None, "<r><ActionId>A-1</ActionId></r>");
        assert_eq!(decoded.format, BodyFormat::Xml);
        assert!(decoded.warnings.is_empty());
    }

    #[test]
    fn a_body_that_is_no_known_format_is_an_error() {
        let error = decode_err("", None, b"hello", &Limits::default());
        assert_eq!(
            error.to_string(),
            "the body does not look like JSON, XML or form data, and no content type was sent"
        );
        let error = decode_err(
            "",
            Some("multipart/form-data; boundary=x"),
            b"--x\r\n",
            &Limits::default(),
        );
        assert!(
            matches!(error, DecodeError::UnsupportedContentType { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn a_body_that_is_not_utf8_is_an_error() {
        let error = decode_err("", FORM, b"ActionId=A-1&Note=caf\xe9", &Limits::default());
        assert_eq!(error, DecodeError::BodyNotUtf8 { offset: 21 });
        assert_eq!(
            error.to_string(),
            "the body is not valid UTF-8: the first invalid byte is at offset 21"
        );
    }

    #[test]
    fn an_empty_or_blank_body_leaves_the_query_fields() {
        let decoded = decode_ok("ActionId=A-1", JSON, " \r\n\t");
        assert_eq!(decoded.format, BodyFormat::Empty);
        assert_eq!(text(&decoded, "ActionId"), "A-1");
    }

    #[test]
    fn a_byte_order_mark_is_removed_with_a_warning() {
        let decoded = decode_ok("", JSON, "\u{feff}{\"ActionId\": \"A-1\"}");
        assert_eq!(text(&decoded, "ActionId"), "A-1");
        assert_eq!(decoded.warnings.len(), 1);
    }

    #[test]
    fn a_repeated_json_key_keeps_the_last_value_with_a_warning() {
        let decoded = decode_ok("", JSON, r#"{"Payout": "1.00", "Payout": "2.00"}"#);
        assert_eq!(text(&decoded, "Payout"), "2.00");
        assert_eq!(decoded.warnings.len(), 1);
    }

    #[test]
    fn xml_items_become_an_array_of_objects_and_entities_are_decoded() {
        let body = "<Action attr=\"ignored\">\
            <ActionId>A-1</ActionId>\
            <Note>fish &amp; chips &lt;3 &#x263A; &#65;</Note>\
            <Empty/><AlsoEmpty></AlsoEmpty>\
            <items><item><sku>SKU-1</sku><quantity>1</quantity></item></items>\
            <lines><line><sku>a</sku></line><line><sku>b</sku></line></lines>\
            <Customer><City>Paris</City><Zip>75001</Zip></Customer>\
            </Action>";
        let decoded = decode_ok("", XML, body);
        assert_eq!(text(&decoded, "Note"), "fish & chips <3 \u{263A} A");
        assert_eq!(text(&decoded, "Empty"), "");
        assert_eq!(text(&decoded, "AlsoEmpty"), "");
        assert_eq!(
            decoded.fields["items"],
            serde_json::json!([{"sku": "SKU-1", "quantity": "1"}])
        );
        assert_eq!(
            decoded.fields["lines"],
            serde_json::json!([{"sku": "a"}, {"sku": "b"}])
        );
        assert_eq!(
            decoded.fields["Customer"],
            serde_json::json!({"City": "Paris", "Zip": "75001"})
        );
        assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
    }

    #[test]
    fn xml_text_that_is_not_a_field_is_reported_in_warnings() {
        let decoded = decode_ok("", XML, "<Action>stray<ActionId>A-1</ActionId></Action>");
        assert_eq!(text(&decoded, "ActionId"), "A-1");
        assert_eq!(
            decoded.warnings,
            vec!["text beside the child elements of <Action> was ignored".to_owned()]
        );
        let decoded = decode_ok("ActionId=A-1", XML, "<Payout>10.50</Payout>");
        assert_eq!(decoded.fields.len(), 1);
        assert_eq!(
            decoded.warnings,
            vec![
                "the XML root element <Payout> has no child elements, so no fields were read from it"
                    .to_owned()
            ]
        );
    }

    #[test]
    fn malformed_xml_is_an_error_with_its_position() {
        let error = decode_err(
            "",
            XML,
            b"<Action>\n  <ActionId>A-1</Payout>\n</Action>",
            &Limits::default(),
        );
        assert_eq!(
            error,
            DecodeError::InvalidXml {
                line: 2,
                column: 16,
                reason: "expected the end of <ActionId> but found the end of <Payout>".to_owned()
            }
        );
        let error = decode_err(
            "",
            XML,
            b"<Action><ActionId>A-1</ActionId>",
            &Limits::default(),
        );
        assert!(
            matches!(error, DecodeError::InvalidXml { line: 1, .. }),
            "{error:?}"
        );
        let error = decode_err("", XML, b"<a>1</a><b>2</b>", &Limits::default());
        assert!(matches!(error, DecodeError::InvalidXml { .. }), "{error:?}");
        let error = decode_err(
            "",
            XML,
            b"<?xml version=\"1.0\"?><!-- nothing -->",
            &Limits::default(),
        );
        assert_eq!(error, DecodeError::XmlNoRoot);
    }

    #[test]
    fn xml_entities_declared_in_a_doctype_are_never_resolved() {
        let body = b"<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<r><a>&xxe;</a></r>";
        let error = decode_err("", XML, body, &Limits::default());
        assert_eq!(
            error,
            DecodeError::UnknownXmlEntity {
                line: 3,
                column: 7,
                entity: "&xxe;".to_owned()
            }
        );
    }

    #[test]
    fn xml_nested_deeper_than_the_limit_is_an_error() {
        let limits = Limits {
            max_fields: 512,
            max_depth: 2,
        };
        let decoded =
            decode("", XML, b"<r><a><b>1</b></a></r>", &limits).expect("depth 2 is allowed");
        assert_eq!(decoded.fields["a"], serde_json::json!({"b": "1"}));
        let error = decode_err("", XML, b"<r><a><b><c>1</c></b></a></r>", &limits);
        assert_eq!(
            error,
            DecodeError::TooDeep {
                format: BodyFormat::Xml,
                limit: 2,
                line: 1,
                column: 10
            }
        );
        let bomb = format!("<r>{}", "<a>".repeat(200_000));
        let error = decode_err("", XML, bomb.as_bytes(), &Limits::default());
        assert!(matches!(error, DecodeError::TooDeep { .. }), "{error:?}");
    }

    #[test]
    fn hostile_bodies_are_read_in_linear_time() {
        let big = 300_000;
        let bodies = [
            "/*a".repeat(big),
            format!("{{{}", ",/*a".repeat(big)),
            format!("{{\"{}\"{}", "k".repeat(big), ": ,".repeat(big / 3)),
            format!("{{\"a\": [{}]}}", "1,]".repeat(big / 3)),
            format!("{{\"{}", "\\\"".repeat(big)),
            format!("{{{}}}", "\"a\":1,".repeat(big / 6)),
            format!("<r>{}</r>", "<a>&amp;</a>".repeat(big / 12)),
        ];
        let started = std::time::Instant::now();
        for body in &bodies {
            let _ = decode("", None, body.as_bytes(), &Limits::default());
            let _ = decode("", JSON, body.as_bytes(), &Limits::default());
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    fn content_types() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            Just(Some("application/json".to_owned())),
            Just(Some("application/json; charset=utf-8".to_owned())),
            Just(Some("application/x-www-form-urlencoded".to_owned())),
            Just(Some("text/xml".to_owned())),
            Just(Some("text/plain".to_owned())),
            Just(Some("multipart/form-data".to_owned())),
            "[ -~]{0,24}".prop_map(Some),
        ]
    }

    fn bodies() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..256),
            "[{}\\[\\]\":,/*\\\\a-z0-9 \n.-]{0,96}".prop_map(String::into_bytes),
            "\\{(\"[a-c]\": ?[\"0-9a-z{}\\[\\],:/*]{0,6},? ?){0,6}\\}?"
                .prop_map(String::into_bytes),
            "[<>/a-c&;#!\\[\\]=\"x ]{0,96}".prop_map(String::into_bytes),
            "(<[a-c]>[a-c&;#0-9]{0,3}){0,8}(</[a-c]>){0,8}".prop_map(String::into_bytes),
            "[a-d=&%0-9+]{0,64}".prop_map(String::into_bytes),
            json_documents().prop_map(String::into_bytes),
            xml_documents().prop_map(String::into_bytes),
        ]
    }

    /// Mostly valid JSON objects, with some of the mistakes the repair handles (comments,
    /// trailing commas, empty values) and some it must refuse.
    fn json_documents() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            "-?[0-9]{1,3}(\\.[0-9]{1,2})?",
            "\"[a-z,:/*{} ]{0,4}\"",
            Just("null".to_owned()),
            Just(String::new()),
            Just("/* c */ true".to_owned()),
        ];
        let value = leaf.prop_recursive(6, 48, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                (
                    proptest::collection::vec(("[a-c]", inner), 0..4),
                    any::<bool>()
                )
                    .prop_map(|(pairs, trailing)| json_object(&pairs, trailing)),
            ]
        });
        (
            proptest::collection::vec(("[a-f]", value), 0..8),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(pairs, trailing, comment)| {
                let comment = if comment { "// example\n" } else { "" };
                format!("{comment}{}", json_object(&pairs, trailing))
            })
    }

    fn json_object(pairs: &[(String, String)], trailing: bool) -> String {
        let members: Vec<String> = pairs
            .iter()
            .map(|(key, value)| format!("\"{key}\": {value}"))
            .collect();
        let comma = if trailing && !members.is_empty() {
            ","
        } else {
            ""
        };
        format!("{{{}{comma}}}", members.join(", "))
    }

    /// Well-formed XML documents of varying depth, with entities, CDATA and empty elements.
    fn xml_documents() -> impl Strategy<Value = String> {
        let leaf = (
            "[a-c]",
            prop_oneof![
                "[a-z0-9 ]{0,4}",
                Just("&amp;&#65;".to_owned()),
                Just("&bad;".to_owned()),
                Just("<![CDATA[<x>]]>".to_owned()),
            ],
        )
            .prop_map(|(name, text)| {
                if text.is_empty() {
                    format!("<{name}/>")
                } else {
                    format!("<{name}>{text}</{name}>")
                }
            });
        let element = leaf.prop_recursive(6, 48, 4, |inner| {
            ("[a-c]", proptest::collection::vec(inner, 0..4))
                .prop_map(|(name, children)| format!("<{name}>{}</{name}>", children.concat()))
        });
        proptest::collection::vec(element, 0..8)
            .prop_map(|children| format!("<?xml version=\"1.0\"?>\n<r>{}</r>", children.concat()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn any_input_decodes_or_errors_without_panicking_and_respects_the_limits(
            query in "[a-e=&%0-9+]{0,32}",
            content_type in content_types(),
            body in bodies(),
            max_fields in 0usize..16,
            max_depth in 1usize..5,
        ) {
            let limits = Limits { max_fields, max_depth };
            if let Ok(decoded) = decode(&query, content_type.as_deref(), &body, &limits) {
                prop_assert!(decoded.fields.len() <= max_fields);
                for value in decoded.fields.values() {
                    prop_assert!(depth(value) < max_depth, "{value:?}");
                }
                prop_assert!(decoded.warnings.len() <= MAX_WARNINGS + 1);
            }
        }
    }
}
