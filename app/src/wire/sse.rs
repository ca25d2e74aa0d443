//! An incremental Server-Sent Events parser (the WHATWG "event stream interpretation"), used by
//! the browser client, which reads the stream with `fetch` instead of `EventSource` so it can
//! see keep-alive comments (to tell a quiet market from a dead connection), send its own
//! `Last-Event-ID` and own the reconnection policy.

/// One dispatched event, or a comment line (keep-alive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Event {
        event: String,
        id: String,
        data: String,
    },
    Comment,
    /// A `retry:` field: the reconnection delay the server asks for, in ms.
    Retry(u64),
}

/// Feed it text chunks as they arrive; it yields complete items. Chunk boundaries may fall
/// anywhere, including inside a line or between `\r` and `\n`.
#[derive(Debug, Default)]
pub struct Parser {
    line: String,
    /// The last chunk ended with `\r`: a following `\n` belongs to the same line break.
    after_cr: bool,
    event: String,
    data: String,
    has_data: bool,
    last_id: String,
}

impl Parser {
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of the last event seen (the resume point), per the spec's "last event ID buffer".
    pub fn last_id(&self) -> &str {
        &self.last_id
    }

    pub fn push(&mut self, chunk: &str, out: &mut Vec<Item>) {
        for c in chunk.chars() {
            match c {
                '\n' if self.after_cr => self.after_cr = false,
                '\r' | '\n' => {
                    self.after_cr = c == '\r';
                    let line = std::mem::take(&mut self.line);
                    self.line_done(&line, out);
                }
                _ => {
                    self.after_cr = false;
                    self.line.push(c);
                }
            }
        }
    }

    fn line_done(&mut self, line: &str, out: &mut Vec<Item>) {
        if line.is_empty() {
            if self.has_data {
                let mut data = std::mem::take(&mut self.data);
                if data.ends_with('\n') {
                    data.pop();
                }
                let event = std::mem::take(&mut self.event);
                out.push(Item::Event {
                    event: if event.is_empty() { "message".into() } else { event },
                    id: self.last_id.clone(),
                    data,
                });
            }
            self.event.clear();
            self.has_data = false;
            return;
        }
        if line.starts_with(':') {
            out.push(Item::Comment);
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.last_id = value.to_string(),
            "retry" => {
                if let Ok(ms) = value.parse() {
                    out.push(Item::Retry(ms));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chunks(chunks: &[&str]) -> Vec<Item> {
        let mut p = Parser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.push(c, &mut out);
        }
        out
    }

    fn ev(event: &str, id: &str, data: &str) -> Item {
        Item::Event {
            event: event.into(),
            id: id.into(),
            data: data.into(),
        }
    }

    #[test]
    fn parses_named_events_with_ids_comments_and_retry() {
        let text = ": hello\nretry: 1000\n\nevent: tick\nid: ab-1\ndata: {\"a\":1}\n\n:\n\nevent: tick\ndata: x\n\n";
        assert_eq!(
            parse_chunks(&[text]),
            vec![
                Item::Comment,
                Item::Retry(1000),
                ev("tick", "ab-1", "{\"a\":1}"),
                Item::Comment,
                ev("tick", "ab-1", "x")
            ]
        );
    }

    #[test]
    fn any_chunking_gives_the_same_items() {
        let text =
            "event: snapshot\r\nid: 1-2\r\ndata: line one\r\ndata: line two\r\n\r\n: ka\r\n\r\nid: 1-3\ndata: y\n\n";
        let whole = parse_chunks(&[text]);
        assert_eq!(whole[0], ev("snapshot", "1-2", "line one\nline two"));
        assert_eq!(whole.last().unwrap(), &ev("message", "1-3", "y"));
        for split in 0..text.len() {
            let (a, b) = text.split_at(split);
            assert_eq!(parse_chunks(&[a, b]), whole, "split at {split}");
        }
    }

    #[test]
    fn events_without_data_are_not_dispatched() {
        assert_eq!(parse_chunks(&["event: tick\nid: 5\n\n"]), vec![]);
        let mut p = Parser::new();
        p.push("id: 9\n\n", &mut Vec::new());
        assert_eq!(p.last_id(), "9", "but the id still counts");
    }

    #[test]
    fn incomplete_events_wait_for_the_blank_line() {
        assert_eq!(parse_chunks(&["event: tick\ndata: 1\n"]), vec![]);
    }

    /// Any chunking of a stream gives the same items, and noise never panics the parser.
    #[test]
    fn random_chunkings_and_noise() {
        let text = "retry: 1000\n:tickertape\n\nevent: snapshot\nid: 1f-2\ndata: {\"é\":[1,2]}\n\n:\n\nevent: tick\r\nid: 1f-3\r\ndata: {}\r\n\r\n";
        let whole = parse_chunks(&[text]);
        assert_eq!(whole.len(), 5);
        let mut next = crate::test_rng(0xA076_1D64_78BD_642F);
        let chars: Vec<char> = text.chars().collect();
        for _ in 0..2_000 {
            let mut chunks = Vec::new();
            let mut at = 0;
            while at < chars.len() {
                let len = 1 + (next() % 12) as usize;
                let end = (at + len).min(chars.len());
                chunks.push(chars[at..end].iter().collect::<String>());
                at = end;
            }
            let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
            assert_eq!(parse_chunks(&refs), whole);
        }
        let noise = ['\n', '\r', ':', ' ', 'e', 'v', 'd', 'a', 't', 'i', 'é', '\u{0}'];
        let mut p = Parser::new();
        let mut out = Vec::new();
        for _ in 0..20_000 {
            let chunk: String = (0..(next() % 16))
                .map(|_| noise[(next() % noise.len() as u64) as usize])
                .collect();
            p.push(&chunk, &mut out);
        }
    }
}
