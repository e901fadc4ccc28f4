//! A step log folded into one `::group::` per item that runs at once (a dataset, a user
//! file…), keyed by whatever the service names its items with.
//!
//! Groups cannot nest or interleave, yet several items run at once. So one item's group is
//! open at a time and its lines print live; the others' lines wait in memory. When the open
//! item ends, its group closes, the groups of items that ended meanwhile print whole, and the
//! next item still running becomes the live one. With one item this is simply a live group.
//! Every line goes through [`neutralize`], so server text cannot issue workflow commands.

use std::io::Write;
use std::sync::{Arc, Mutex};

use super::commands::{end_group, group, neutralize};

struct State<K, W> {
    out: W,
    ids: Vec<K>,
    titles: Vec<String>,
    buffers: Vec<Vec<String>>,
    ended: Vec<bool>,
    printed: Vec<bool>,
    open: Option<usize>,
}

/// A log shared by every item's callback.
pub struct GroupedLog<K, W: Write + Send> {
    state: Mutex<State<K, W>>,
}

impl<K: PartialEq + Send, W: Write + Send + 'static> GroupedLog<K, W> {
    /// One group per item, with its title, in this order; opens the first group at once.
    pub fn new(out: W, groups: Vec<(K, String)>) -> Arc<Self> {
        let n = groups.len();
        let (ids, titles) = groups.into_iter().unzip();
        let log = Arc::new(GroupedLog {
            state: Mutex::new(State {
                out,
                ids,
                titles,
                buffers: vec![Vec::new(); n],
                ended: vec![false; n],
                printed: vec![false; n],
                open: None,
            }),
        });
        log.state.lock().expect("log lock").advance();
        log
    }

    /// Adds a line to an item's log.
    pub fn line(&self, id: &K, text: &str) {
        let mut st = self.state.lock().expect("log lock");
        let Some(i) = st.ids.iter().position(|d| d == id) else {
            return;
        };
        let line = neutralize(text);
        if st.open == Some(i) {
            let _ = writeln!(st.out, "{line}");
            let _ = st.out.flush();
        } else {
            st.buffers[i].push(line);
        }
    }

    /// Marks an item as ended: its group closes (now, or once it has printed).
    pub fn ended(&self, id: &K) {
        let mut st = self.state.lock().expect("log lock");
        let Some(i) = st.ids.iter().position(|d| d == id) else {
            return;
        };
        st.ended[i] = true;
        if st.open == Some(i) {
            st.close_open();
            st.advance();
        }
    }

    /// Closes the open group and prints every group not printed yet. Returns the writer.
    pub fn finish(&self) {
        let mut st = self.state.lock().expect("log lock");
        st.close_open();
        for i in 0..st.ids.len() {
            if !st.printed[i] {
                st.print_whole(i);
            }
        }
        let _ = st.out.flush();
    }
}

impl<K, W: Write> State<K, W> {
    fn close_open(&mut self) {
        if let Some(i) = self.open.take() {
            let _ = writeln!(self.out, "{}", end_group());
            self.printed[i] = true;
        }
    }

    fn print_whole(&mut self, i: usize) {
        let _ = writeln!(self.out, "{}", group(&self.titles[i]));
        for line in std::mem::take(&mut self.buffers[i]) {
            let _ = writeln!(self.out, "{line}");
        }
        let _ = writeln!(self.out, "{}", end_group());
        self.printed[i] = true;
    }

    /// Prints the groups of datasets that ended, then opens the next one still running.
    fn advance(&mut self) {
        for i in 0..self.ids.len() {
            if self.ended[i] && !self.printed[i] {
                self.print_whole(i);
            }
        }
        if let Some(i) = (0..self.ids.len()).find(|&i| !self.printed[i]) {
            let _ = writeln!(self.out, "{}", group(&self.titles[i]));
            for line in std::mem::take(&mut self.buffers[i]) {
                let _ = writeln!(self.out, "{line}");
            }
            self.open = Some(i);
        }
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn id(n: u8) -> String {
        format!("8c4c51f1-f6f3-43bc-b65d-7415e8ef22c{n}")
    }

    fn groups(ids: &[&String]) -> Vec<(String, String)> {
        ids.iter()
            .map(|id| (id.to_string(), format!("Dataset {id}")))
            .collect()
    }

    #[test]
    fn groups_never_interleave_and_every_line_lands_in_its_group() {
        let out = Shared::default();
        let (a, b, c) = (id(1), id(2), id(3));
        let log = GroupedLog::new(out.clone(), groups(&[&a, &b, &c]));
        log.line(&a, "a1");
        log.line(&b, "b1");
        log.line(&c, "c1");
        log.ended(&c);
        log.line(&b, "b2");
        log.ended(&a); // closes a, prints c whole, opens b live
        log.line(&b, "b3");
        log.finish();
        let text = out.text();
        let expected = format!(
            "::group::Dataset {a}\na1\n::endgroup::\n\
             ::group::Dataset {c}\nc1\n::endgroup::\n\
             ::group::Dataset {b}\nb1\nb2\nb3\n::endgroup::\n"
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn untrusted_text_cannot_issue_commands() {
        let out = Shared::default();
        let a = id(1);
        let log = GroupedLog::new(out.clone(), groups(&[&a]));
        log.line(&a, "detail\n::add-mask::x");
        log.finish();
        assert!(!out.text().contains("\n::add-mask::"), "{}", out.text());
    }
}
