//! The only places where text from outside becomes part of SQL text: quoting a string
//! literal (a file path for COPY), quoting an identifier (a query's column names), and
//! checking that a user's `--where` is one condition.
//! Values otherwise always go in as bound parameters.

use anyhow::{Result, bail};

/// `text` as a SQL string literal: `'it''s'`.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `name` as a SQL identifier: `"a""b"`. Column names of a user's query go through here.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Check that `condition` is a single SQL condition that can sit in `WHERE (...)`: no `;`,
/// no comments, quotes and parentheses balanced.
pub fn check_condition(condition: &str) -> Result<()> {
    let mut depth = 0i64;
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for c in condition.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth < 0 {
                        bail!(
                            "--where: unbalanced ')' in {condition:?}; give one condition such as \"id > 10\""
                        );
                    }
                }
                ';' => bail!(
                    "--where takes one condition, not statements: remove the ';' from {condition:?}"
                ),
                '-' if prev == '-' => bail!("--where: comments are not allowed in {condition:?}"),
                '*' if prev == '/' => bail!("--where: comments are not allowed in {condition:?}"),
                _ => {}
            },
        }
        prev = c;
    }
    if quote.is_some() {
        bail!("--where: unclosed quote in {condition:?}");
    }
    if depth != 0 {
        bail!("--where: unbalanced '(' in {condition:?}");
    }
    if condition.trim().is_empty() {
        bail!("--where is empty; give a condition such as \"id > 10\"");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("a'); DROP TABLE tasks; --"), "'a''); DROP TABLE tasks; --'");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn conditions() {
        assert!(check_condition("id > 3 AND data->>'t' = 'a;b'").is_ok());
        assert!(
            check_condition("id > 3; DROP TABLE tasks")
                .unwrap_err()
                .to_string()
                .contains("remove the ';'")
        );
        assert!(check_condition("1=1) OR (1=1").is_err());
        assert!(check_condition("id > 1 -- x").is_err());
        assert!(check_condition(" ").is_err());
    }
}
