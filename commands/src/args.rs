//! Splitting a command's argument string the way a shell would: whitespace separates, single
//! quotes are literal, double quotes allow `\"` and `\\`, a backslash outside quotes escapes the
//! next character. An unterminated quote runs to the end of the input (reported, not fatal).

/// The arguments of one invocation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Arguments {
    /// Everything after the command name, as typed (trimmed).
    pub raw: String,
    /// The words, quotes removed.
    pub words: Vec<String>,
    /// True when a quote was never closed.
    pub unterminated_quote: bool,
}

impl Arguments {
    pub fn parse(raw: &str) -> Self {
        let raw = raw.trim();
        let (words, unterminated_quote) = split(raw);
        Self {
            raw: raw.to_string(),
            words,
            unterminated_quote,
        }
    }

    /// Arguments given as separate words (e.g. from a CLI's argv): `raw` is the words joined
    /// with spaces, each quoted when it needs to be, so `$ARGUMENTS` round-trips.
    pub fn from_words(words: &[String]) -> Self {
        let raw = words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ");
        Self {
            raw,
            words: words.to_vec(),
            unterminated_quote: false,
        }
    }
}

fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '\\'))
    {
        word.to_string()
    } else {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

fn split(input: &str) -> (Vec<String>, bool) {
    #[derive(PartialEq)]
    enum State {
        Between,
        Word,
        Single,
        Double,
    }
    let mut words = Vec::new();
    let mut current = String::new();
    let mut state = State::Between;
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        match state {
            State::Between | State::Word => match c {
                c if c.is_whitespace() => {
                    if state == State::Word {
                        words.push(std::mem::take(&mut current));
                        state = State::Between;
                    }
                }
                '\'' => state = State::Single,
                '"' => state = State::Double,
                '\\' => {
                    if let Some(next) = chars.next() {
                        current.push(next);
                    }
                    state = State::Word;
                }
                c => {
                    current.push(c);
                    state = State::Word;
                }
            },
            State::Single => match c {
                '\'' => state = State::Word,
                c => current.push(c),
            },
            State::Double => match c {
                '"' => state = State::Word,
                '\\' if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                    if let Some(next) = chars.next() {
                        current.push(next);
                    }
                }
                c => current.push(c),
            },
        }
    }
    let unterminated = matches!(state, State::Single | State::Double);
    if state != State::Between {
        words.push(current);
    }
    (words, unterminated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        Arguments::parse(s).words
    }

    #[test]
    fn shell_style() {
        assert_eq!(words("a b  c"), ["a", "b", "c"]);
        assert_eq!(words("\"hello world\" second"), ["hello world", "second"]);
        assert_eq!(words("'it''s' x"), ["its", "x"]);
        assert_eq!(words(r#""say \"hi\"" a\ b"#), ["say \"hi\"", "a b"]);
        assert_eq!(words("\"\" x"), ["", "x"]);
        assert_eq!(words("--app=web prod"), ["--app=web", "prod"]);
        assert!(words("").is_empty());
    }

    #[test]
    fn unterminated_quote_runs_to_end() {
        let a = Arguments::parse("a \"b c");
        assert_eq!(a.words, ["a", "b c"]);
        assert!(a.unterminated_quote);
    }

    #[test]
    fn from_words_round_trips() {
        let words = vec!["hello world".to_string(), "x".to_string(), "".to_string()];
        let a = Arguments::from_words(&words);
        assert_eq!(a.raw, "\"hello world\" x \"\"");
        assert_eq!(Arguments::parse(&a.raw).words, words);
    }
}
