//! The syntax of template bodies (`${name}` placeholders) and variant names, shared by
//! [`crate::config`] (which checks configured templates) and [`crate::template`] (which renders
//! them), so that neither depends on the other for it.

/// A body whose placeholders cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    #[error("unterminated ${{ at byte {0}")]
    Unterminated(usize),
    #[error("empty placeholder ${{}} at byte {0}")]
    EmptyPlaceholder(usize),
}

/// Variants compare case-insensitively (PingOne's rule); no variant equals no variant.
pub fn same_variant(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

/// The names of a body's placeholders, in order.
pub fn placeholders(body: &str) -> Result<Vec<&str>, SyntaxError> {
    let mut out = Vec::new();
    let mut rest = body;
    let mut offset = 0;
    while let Some(start) = rest.find("${") {
        let after = rest.get(start + 2..).unwrap_or_default();
        let end = after
            .find('}')
            .ok_or(SyntaxError::Unterminated(offset + start))?;
        let name = after.get(..end).unwrap_or_default();
        if name.trim().is_empty() {
            return Err(SyntaxError::EmptyPlaceholder(offset + start));
        }
        out.push(name);
        let consumed = start + 2 + end + 1;
        offset += consumed;
        rest = rest.get(consumed..).unwrap_or_default();
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SEED: &str =
        "Approve this transfer of ${sum} ${currency} to ${recipient}, by entering this OTP: ${OTP}";

    #[test]
    fn placeholders_are_parsed_strictly() {
        assert_eq!(
            placeholders(SEED).unwrap(),
            ["sum", "currency", "recipient", "OTP"]
        );
        assert_eq!(placeholders("$5 and $ {x}").unwrap(), Vec::<&str>::new());
        assert_eq!(placeholders("a ${b"), Err(SyntaxError::Unterminated(2)));
        assert_eq!(placeholders("${}"), Err(SyntaxError::EmptyPlaceholder(0)));
        assert!(same_variant(Some("High-Value"), Some("high-value")));
        assert!(same_variant(None, None) && !same_variant(Some("a"), None));
    }
}
