//! Account rules: what an email address and a password must look like, how sign-in attempts are
//! counted by address, and how far a guessed-at account slows down. Pure, no I/O.

use std::time::Duration;

pub const MIN_PASSWORD: usize = 8;
pub const MAX_PASSWORD: usize = 128;
/// Sign-in and sign-up attempts one address may have failing or in flight per window, over all
/// accounts (successful ones are taken back).
pub const ATTEMPTS_PER_ADDRESS: u64 = 50;
/// Sign-in attempts one address may make on one account per window. An attacker's address is
/// locked out of that account; the customer's own address is not.
pub const ATTEMPTS_PER_ADDRESS_AND_ACCOUNT: u64 = 10;
/// Sign-in attempts on one account, from any address, after which the account slows down: one
/// attempt per `account_delay` from browsers that never signed in to it, so guessing spread over
/// many addresses stays slow, while the customer's own browsers are never held up.
pub const ACCOUNT_SLOWDOWN_FROM: u64 = 10;
pub const ACCOUNT_MAX_DELAY: Duration = Duration::from_secs(30);
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccountRuleError {
    #[error("Enter an email address like name@example.com.")]
    Email,
    #[error("Passwords are {MIN_PASSWORD} to {MAX_PASSWORD} characters long.")]
    PasswordLength,
}

/// One attempt per this long on an account with `failures` recent failures: 1 s, doubling with
/// every failure, at most `ACCOUNT_MAX_DELAY`.
pub fn account_delay(failures: u64) -> Duration {
    let doublings = failures.saturating_sub(ACCOUNT_SLOWDOWN_FROM).min(16) as u32;
    Duration::from_secs(1u64 << doublings).min(ACCOUNT_MAX_DELAY)
}

/// Trims and lower-cases an email and checks its shape.
pub fn normalize_email(raw: &str) -> Result<String, AccountRuleError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if valid {
        Ok(email)
    } else {
        Err(AccountRuleError::Email)
    }
}

/// Passwords are 8 to 128 characters (not bytes).
pub fn check_password(password: &str) -> Result<(), AccountRuleError> {
    let n = password.chars().count();
    if (MIN_PASSWORD..=MAX_PASSWORD).contains(&n) {
        Ok(())
    } else {
        Err(AccountRuleError::PasswordLength)
    }
}

/// The address as rate limits count it: an IPv6 address by its /64 (what one host usually
/// gets), so an attacker cannot take a fresh address from their own block for every guess.
pub fn limit_address(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email("  Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in ["", "ann", "ann@", "@example.com", "ann@example", "a nn@example.com", "ann@.com", "a@b@c.com"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn addresses_are_limited_by_host_and_ipv6_by_its_64() {
        assert_eq!(limit_address("203.0.113.9"), "203.0.113.9");
        assert_eq!(limit_address("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(limit_address("2001:db8:1:2:bbbb::7"), limit_address("2001:db8:1:2:aaaa::1"));
        assert_eq!(limit_address("unknown"), "unknown");
    }

    #[test]
    fn account_delays_double_up_to_the_cap() {
        assert_eq!(account_delay(ACCOUNT_SLOWDOWN_FROM), Duration::from_secs(1));
        assert_eq!(account_delay(ACCOUNT_SLOWDOWN_FROM + 2), Duration::from_secs(4));
        assert_eq!(account_delay(ACCOUNT_SLOWDOWN_FROM + 40), ACCOUNT_MAX_DELAY);
    }

    #[test]
    fn password_length_is_8_to_128_characters() {
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
        assert!(check_password(&"é".repeat(128)).is_ok(), "characters, not bytes");
        assert!(check_password(&"x".repeat(129)).is_err());
        assert_eq!(AccountRuleError::PasswordLength.to_string(), "Passwords are 8 to 128 characters long.");
    }
}
