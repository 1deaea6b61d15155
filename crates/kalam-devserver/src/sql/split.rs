//! Splitting a request into statements and unwrapping `EXECUTE AS USER 'x' (stmt)` (PROTOCOL §2.4, §2.6).
//! Both work on raw text because the wrapper and the KalamDB statements are not standard SQL.

/// Splits on `;` outside quotes, parentheses and comments. Empty pieces are dropped.
/// Fails on an unterminated quote or comment (the caller answers `BATCH_PARSE_ERROR`).
pub fn split_statements(sql: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    let mut depth: i32 = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' | '`' => {
                let quote = c;
                current.push(c);
                i += 1;
                let mut closed = false;
                while i < chars.len() {
                    current.push(chars[i]);
                    if chars[i] == quote {
                        if i + 1 < chars.len() && chars[i + 1] == quote {
                            current.push(chars[i + 1]);
                            i += 2;
                            continue;
                        }
                        closed = true;
                        i += 1;
                        break;
                    }
                    i += 1;
                }
                if !closed {
                    return Err(format!("unterminated quoted text starting with {quote}"));
                }
                continue;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                current.push(' ');
                continue;
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                match find_block_end(&chars, i + 2) {
                    Some(end) => i = end,
                    None => return Err("unterminated block comment".into()),
                }
                current.push(' ');
                continue;
            }
            '(' => depth += 1,
            ')' => depth -= 1,
            ';' if depth <= 0 => {
                push_piece(&mut out, &current);
                current.clear();
                i += 1;
                continue;
            }
            _ => {}
        }
        current.push(c);
        i += 1;
    }
    push_piece(&mut out, &current);
    Ok(out)
}

fn find_block_end(chars: &[char], from: usize) -> Option<usize> {
    let mut j = from;
    while j + 1 < chars.len() {
        if chars[j] == '*' && chars[j + 1] == '/' {
            return Some(j + 2);
        }
        j += 1;
    }
    None
}

fn push_piece(out: &mut Vec<String>, piece: &str) {
    let trimmed = piece.trim();
    if !trimmed.is_empty() {
        out.push(trimmed.to_string());
    }
}

/// `CURRENT_USER()` → `CURRENT_USER`: KalamDB accepts the call form, sqlparser only the
/// keyword. Quoted text is left alone.
pub fn strip_call_parens(sql: &str, names: &[&str]) -> String {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let c = bytes[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else if c == b'\'' || c == b'"' {
            quote = Some(c);
        } else if c.is_ascii_alphabetic()
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'))
        {
            if let Some(name) = names.iter().find(|n| {
                sql.len() >= i + n.len()
                    && sql.is_char_boundary(i + n.len())
                    && sql[i..i + n.len()].eq_ignore_ascii_case(n)
            }) {
                let rest = &sql[i + name.len()..];
                let trimmed = rest.trim_start();
                if let Some(after) = trimmed.strip_prefix('(') {
                    if let Some(after_close) = after.trim_start().strip_prefix(')') {
                        out.push_str(&sql[i..i + name.len()]);
                        i = sql.len() - after_close.len();
                        continue;
                    }
                }
            }
        }
        // Copy one whole UTF-8 character.
        let len = utf8_len(c);
        out.push_str(&sql[i..(i + len).min(sql.len())]);
        i += len;
    }
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// `EXECUTE AS USER <name> (<stmt>)`, already split out of its batch.
#[derive(Debug, PartialEq)]
pub struct ExecuteAs {
    pub user: String,
    pub inner: String,
}

/// Ok(None) when the statement is not wrapped; Err(message) for a malformed wrapper
/// (answered with 400 `INVALID_INPUT`).
pub fn parse_execute_as(stmt: &str) -> Result<Option<ExecuteAs>, String> {
    let s = stmt.trim().trim_end_matches(';').trim();
    let words: Vec<&str> = s.splitn(4, char::is_whitespace).collect();
    let is_wrapper = words.len() >= 3
        && words[0].eq_ignore_ascii_case("EXECUTE")
        && words[1].eq_ignore_ascii_case("AS")
        && words[2].eq_ignore_ascii_case("USER");
    if !is_wrapper {
        return Ok(None);
    }
    // Position after "EXECUTE AS USER".
    let after_keywords = {
        let mut rest = s;
        for _ in 0..3 {
            rest = rest.trim_start();
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            rest = &rest[end..];
        }
        rest.trim_start()
    };
    let (user, rest) = if let Some(body) = after_keywords.strip_prefix('\'') {
        let mut name = String::new();
        let mut chars = body.char_indices().peekable();
        let mut end = None;
        while let Some((idx, c)) = chars.next() {
            if c == '\'' {
                if matches!(chars.peek(), Some((_, '\''))) {
                    name.push('\'');
                    chars.next();
                    continue;
                }
                end = Some(idx + 1);
                break;
            }
            name.push(c);
        }
        match end {
            Some(e) => (name, &body[e..]),
            None => return Err("EXECUTE AS USER: unterminated user name".into()),
        }
    } else {
        let end = after_keywords
            .find(|c: char| c.is_whitespace() || c == '(')
            .unwrap_or(after_keywords.len());
        (after_keywords[..end].to_string(), &after_keywords[end..])
    };
    if user.trim().is_empty() {
        return Err("EXECUTE AS USER requires a user name".into());
    }
    let rest = rest.trim();
    let Some(body) = rest.strip_prefix('(') else {
        return Err("EXECUTE AS USER expects '(' followed by a statement".into());
    };
    let Some(close) = matching_paren(body) else {
        return Err("EXECUTE AS USER: missing closing ')'".into());
    };
    let inner = body[..close].trim().trim_end_matches(';').trim();
    let trailing = body[close + 1..].trim();
    if !trailing.is_empty() {
        return Err("EXECUTE AS USER: nothing may follow the closing ')'".into());
    }
    if inner.is_empty() {
        return Err("EXECUTE AS USER: empty statement".into());
    }
    match split_statements(inner) {
        Ok(parts) if parts.len() == 1 => {}
        Ok(_) => return Err("EXECUTE AS USER accepts exactly one statement".into()),
        Err(e) => return Err(e),
    }
    Ok(Some(ExecuteAs {
        user: user.trim().to_string(),
        inner: inner.to_string(),
    }))
}

/// Byte index of the `)` closing an already-opened parenthesis, respecting quotes.
fn matching_paren(body: &str) -> Option<usize> {
    let mut depth = 1;
    let mut quote: Option<char> = None;
    for (idx, c) in body.char_indices() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(idx);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_and_parens() {
        let parts =
            split_statements("INSERT INTO a VALUES ('x;y'); SELECT 1 ;; -- c;\n SELECT 2").unwrap();
        assert_eq!(
            parts,
            vec!["INSERT INTO a VALUES ('x;y')", "SELECT 1", "SELECT 2"]
        );
        assert!(split_statements("SELECT 'oops").is_err());
        let wrapped =
            split_statements("EXECUTE AS USER a (INSERT INTO t VALUES (1);); SELECT 1").unwrap();
        assert_eq!(wrapped.len(), 2);
    }

    #[test]
    fn strips_current_user_call_parens() {
        assert_eq!(
            strip_call_parens(
                "SELECT CURRENT_USER() AS u, 'current_user()' , é",
                &["current_user"]
            ),
            "SELECT CURRENT_USER AS u, 'current_user()' , é"
        );
        assert_eq!(
            strip_call_parens("SELECT my_current_user()", &["current_user"]),
            "SELECT my_current_user()"
        );
    }

    #[test]
    fn unwraps_execute_as() {
        let w = parse_execute_as("EXECUTE AS USER 'o''brien' (SELECT * FROM t WHERE a = ')')")
            .unwrap()
            .unwrap();
        assert_eq!(w.user, "o'brien");
        assert_eq!(w.inner, "SELECT * FROM t WHERE a = ')'");
        let bare = parse_execute_as("execute as user alice(INSERT INTO t (a) VALUES (1));")
            .unwrap()
            .unwrap();
        assert_eq!(bare.user, "alice");
        assert!(parse_execute_as("SELECT 1").unwrap().is_none());
        assert!(parse_execute_as("EXECUTE AS USER alice (SELECT 1) extra").is_err());
        assert!(parse_execute_as("EXECUTE AS USER alice SELECT 1").is_err());
        assert!(parse_execute_as("EXECUTE AS USER alice ()").is_err());
    }
}
