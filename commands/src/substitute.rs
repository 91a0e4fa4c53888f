//! Argument placeholders: `$ARGUMENTS`, `$ARGUMENTS[N]` (0-based), `$N` (1-based by default,
//! 0-based with `positional_base = 0` as in current Claude Code), named `$name` for the
//! command's declared `arguments`, and `\$` for a literal dollar sign.

use crate::args::Arguments;

/// The result of substituting one piece of text.
#[derive(Debug, Default)]
pub struct Substituted {
    pub text: String,
    /// True when any placeholder was present (so no `ARGUMENTS:` line is appended).
    pub used_placeholder: bool,
    /// Placeholders that referred to arguments that were not given, as written (`$2`).
    pub missing: Vec<String>,
}

/// Substitutes placeholders in `text`. A missing argument becomes the empty string and is
/// listed in `missing`; a `$N` below the positional base (`$0` with base 1) is left as written,
/// since in shell snippets it means something else.
pub fn substitute(text: &str, args: &Arguments, named: &[String], base: usize) -> Substituted {
    let mut out = Substituted {
        text: String::with_capacity(text.len()),
        ..Default::default()
    };
    let mut rest = text;
    while let Some(pos) = rest.find(['$', '\\']) {
        out.text.push_str(&rest[..pos]);
        rest = &rest[pos..];
        if let Some(after) = rest.strip_prefix("\\$") {
            out.text.push('$');
            rest = after;
            continue;
        }
        if rest.starts_with('\\') {
            out.text.push('\\');
            rest = &rest[1..];
            continue;
        }
        let (consumed, replacement) = placeholder(rest, args, named, base, &mut out);
        match replacement {
            Some(value) => out.text.push_str(&value),
            None => out.text.push_str(&rest[..consumed]),
        }
        rest = &rest[consumed..];
    }
    out.text.push_str(rest);
    out
}

/// Reads a placeholder at the start of `s` (which starts with `$`). Returns how many bytes it
/// spans and its replacement (`None`: not a placeholder, copy as is).
fn placeholder(
    s: &str,
    args: &Arguments,
    named: &[String],
    base: usize,
    out: &mut Substituted,
) -> (usize, Option<String>) {
    let after = &s[1..];
    if let Some(tail) = after.strip_prefix("ARGUMENTS") {
        out.used_placeholder = true;
        if let Some(index_part) = tail.strip_prefix('[') {
            let digits = leading_digits(index_part);
            if !digits.is_empty() && index_part[digits.len()..].starts_with(']') {
                let spanned = 1 + "ARGUMENTS[".len() + digits.len() + 1;
                let value = digits
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| args.words.get(i).cloned());
                return (
                    spanned,
                    Some(value.unwrap_or_else(|| {
                        out.missing.push(s[..spanned].to_string());
                        String::new()
                    })),
                );
            }
        }
        return (1 + "ARGUMENTS".len(), Some(args.raw.clone()));
    }
    let digits = leading_digits(after);
    if !digits.is_empty() {
        let spanned = 1 + digits.len();
        let Ok(n) = digits.parse::<usize>() else {
            return (spanned, None);
        };
        if n < base {
            return (spanned, None);
        }
        out.used_placeholder = true;
        return (
            spanned,
            Some(args.words.get(n - base).cloned().unwrap_or_else(|| {
                out.missing.push(s[..spanned].to_string());
                String::new()
            })),
        );
    }
    let ident_len = after
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map_or(after.len(), |(i, _)| i);
    let ident = &after[..ident_len];
    if let Some(index) = named.iter().position(|n| n == ident) {
        out.used_placeholder = true;
        let spanned = 1 + ident_len;
        return (
            spanned,
            Some(args.words.get(index).cloned().unwrap_or_else(|| {
                out.missing.push(s[..spanned].to_string());
                String::new()
            })),
        );
    }
    (1, None)
}

fn leading_digits(s: &str) -> &str {
    let end = s
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(s.len(), |(i, _)| i);
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(text: &str, args: &str, base: usize) -> Substituted {
        substitute(
            text,
            &Arguments::parse(args),
            &["env".to_string(), "app".to_string()],
            base,
        )
    }

    #[test]
    fn arguments_and_positionals() {
        let s = sub(
            "all=$ARGUMENTS first=$1 second=$2 idx0=$ARGUMENTS[0]",
            "\"a b\" c",
            1,
        );
        assert_eq!(s.text, "all=\"a b\" c first=a b second=c idx0=a b");
        assert!(s.used_placeholder);
        assert!(s.missing.is_empty());
    }

    #[test]
    fn base_zero_is_claude_code_style() {
        let s = sub("$0 $1", "x y", 0);
        assert_eq!(s.text, "x y");
    }

    #[test]
    fn dollar_zero_with_base_one_is_left_alone() {
        let s = sub("usage: $0 $1", "x", 1);
        assert_eq!(s.text, "usage: $0 x");
    }

    #[test]
    fn named_arguments() {
        let s = sub("deploy $app to $env, not $environment", "prod web", 1);
        assert_eq!(s.text, "deploy web to prod, not $environment");
    }

    #[test]
    fn escapes_and_missing() {
        let s = sub("cost \\$5, \\n stays, $3 and $ARGUMENTS[4] missing", "a", 1);
        assert_eq!(s.text, "cost $5, \\n stays,  and  missing");
        assert_eq!(s.missing, ["$3", "$ARGUMENTS[4]"]);
    }

    #[test]
    fn no_placeholders() {
        let s = sub("plain $ text $HOME", "a", 1);
        assert_eq!(s.text, "plain $ text $HOME");
        assert!(!s.used_placeholder);
    }

    #[test]
    fn multibyte_text_is_kept() {
        let s = sub("→ $1 ✓ $", "é", 1);
        assert_eq!(s.text, "→ é ✓ $");
    }
}
