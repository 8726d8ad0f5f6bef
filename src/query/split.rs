//! Splitting SQL text as a user typed it into statements, and telling whether typed text
//! holds a complete statement (the shell's multi-line input).

/// Split SQL text into statements on `;`, respecting quotes and comments. Empty statements
/// are dropped. The last statement need not end in `;`.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                current.push(c);
                for d in chars.by_ref() {
                    current.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        current.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for d in chars.by_ref() {
                    if last == '*' && d == '/' {
                        break;
                    }
                    last = d;
                }
                current.push(' ');
            }
            ';' => {
                if !current.trim().is_empty() {
                    out.push(current.trim().to_string());
                }
                current.clear();
            }
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// True when the text holds a complete statement: it ends with `;` outside quotes/comments.
pub fn is_complete(sql: &str) -> bool {
    let mut in_quote: Option<char> = None;
    let mut last_significant = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match in_quote {
            Some(q) => {
                if c == q {
                    in_quote = None;
                }
                last_significant = Some(c);
            }
            None => match c {
                '\'' | '"' => {
                    in_quote = Some(c);
                    last_significant = Some(c);
                }
                '-' if chars.peek() == Some(&'-') => {
                    for d in chars.by_ref() {
                        if d == '\n' {
                            break;
                        }
                    }
                }
                c if c.is_whitespace() => {}
                c => last_significant = Some(c),
            },
        }
    }
    in_quote.is_none() && last_significant == Some(';')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_semicolons_outside_quotes() {
        assert_eq!(
            split_statements("select ';' as a; -- x;\nselect 2 /* ; */;  ;"),
            ["select ';' as a", "select 2"]
        );
        assert!(is_complete("select 1;\n"));
        assert!(!is_complete("select ';'"));
        assert!(!is_complete("select 1 -- ;"));
    }
}
