//! What a line of user input asks for: a slash command, a named agent, or free text for the
//! main agent (DESIGN.md §2, step 1).

/// The parsed intent of one input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/name args…`
    Command { name: String, args: String },
    /// `@agent-NAME text…`
    Agent { name: String, text: String },
    /// Anything else: the main agent decides, possibly delegating by description.
    Text(String),
}

/// Parses a line of input. A `/` followed by a space or a path (`/etc/hosts`) is text.
pub fn route(input: &str) -> Route {
    let trimmed = input.trim();
    if let Some(rest) = trimmed.strip_prefix('/') {
        let (name, args) = split_first_word(rest);
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
        if valid {
            return Route::Command {
                name: name.to_string(),
                args: args.to_string(),
            };
        }
    }
    if let Some(rest) = trimmed.strip_prefix("@agent-") {
        let (name, text) = split_first_word(rest);
        if !name.is_empty() {
            return Route::Agent {
                name: name.to_string(),
                text: text.to_string(),
            };
        }
    }
    Route::Text(trimmed.to_string())
}

fn split_first_word(s: &str) -> (&str, &str) {
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            route("/validate-infra --app web"),
            Route::Command {
                name: "validate-infra".into(),
                args: "--app web".into()
            }
        );
        assert_eq!(
            route("/frontend:component Button"),
            Route::Command {
                name: "frontend:component".into(),
                args: "Button".into()
            }
        );
        assert_eq!(
            route("@agent-infrastructure-drift check prod"),
            Route::Agent {
                name: "infrastructure-drift".into(),
                text: "check prod".into()
            }
        );
        assert_eq!(
            route("/etc/hosts is odd"),
            Route::Text("/etc/hosts is odd".into())
        );
        assert_eq!(
            route("why is prod red?"),
            Route::Text("why is prod red?".into())
        );
    }
}
