//! Mail settings: which transport, the sender, and how to reach the SMTP relay.
//!
//! Every field has an environment variable, so a council can deploy without flags. The
//! settings are checked once, when the [`Mailer`](super::Mailer) is built, so a mistake
//! stops the server at start-up instead of failing every message later.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use lettre::message::Mailbox;

/// Where outgoing mail goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum MailTransportKind {
    /// One `.eml` file per message in a folder: for development, and for councils whose
    /// own system picks the files up.
    #[default]
    File,
    /// An SMTP relay.
    Smtp,
}

/// How the connection to the SMTP relay is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum SmtpTls {
    /// Plain text: only for a relay on the same machine or a test server.
    None,
    /// A plain connection upgraded with STARTTLS (usually port 587). The upgrade is
    /// required: a server that does not offer it is never sent credentials or mail.
    #[default]
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

impl SmtpTls {
    /// The port this mode conventionally uses.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        }
    }

    /// How the mode reads in the start-up log.
    pub(super) fn label(self) -> &'static str {
        match self {
            SmtpTls::None => "no TLS",
            SmtpTls::Starttls => "STARTTLS",
            SmtpTls::Tls => "TLS",
        }
    }
}

/// Mail settings (flattened into the server's clap `Config`; every field has an env var).
#[derive(Clone, Args)]
pub struct MailConfig {
    /// `file` (default: one .eml per message in CIVIC_PANEL_MAIL_DIR) or `smtp`.
    #[arg(long, env = "CIVIC_PANEL_MAIL_TRANSPORT", value_enum, default_value_t = MailTransportKind::File)]
    pub mail_transport: MailTransportKind,

    /// Folder the file transport writes to (created if missing).
    #[arg(long, env = "CIVIC_PANEL_MAIL_DIR", default_value = "civic-panel-mail")]
    pub mail_dir: PathBuf,

    /// Sender of every message, as a mailbox: `Name <address>` or a bare address.
    #[arg(
        long,
        env = "CIVIC_PANEL_MAIL_FROM",
        default_value = "Residents' Panel <panel@localhost>"
    )]
    pub mail_from: String,

    /// SMTP relay host name (required for the smtp transport).
    #[arg(long, env = "CIVIC_PANEL_SMTP_HOST")]
    pub smtp_host: Option<String>,

    /// SMTP relay port; by default 587 for starttls, 465 for tls, 25 for none.
    #[arg(long, env = "CIVIC_PANEL_SMTP_PORT")]
    pub smtp_port: Option<u16>,

    /// Connection protection: `none`, `starttls` (required, not opportunistic) or `tls`.
    #[arg(long, env = "CIVIC_PANEL_SMTP_TLS", value_enum, default_value_t = SmtpTls::Starttls)]
    pub smtp_tls: SmtpTls,

    /// SMTP user name; when set the client authenticates (PLAIN or LOGIN).
    #[arg(long, env = "CIVIC_PANEL_SMTP_USERNAME")]
    pub smtp_username: Option<String>,

    /// SMTP password (prefer CIVIC_PANEL_SMTP_PASSWORD_FILE, which keeps it out of the
    /// process environment).
    #[arg(long, env = "CIVIC_PANEL_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,

    /// File holding the SMTP password (a trailing newline is ignored).
    #[arg(long, env = "CIVIC_PANEL_SMTP_PASSWORD_FILE")]
    pub smtp_password_file: Option<PathBuf>,

    /// Folder text messages are written to, one `.sms` file each (the local stand-in for
    /// an SMS provider; created if missing).
    #[arg(long, env = "CIVIC_PANEL_SMS_DIR", default_value = "civic-panel-sms")]
    pub sms_dir: PathBuf,

    /// Seconds one delivery may take, from connecting to the server's last answer.
    #[arg(long, env = "CIVIC_PANEL_SMTP_TIMEOUT_SECS", default_value_t = 30)]
    pub smtp_timeout_secs: u64,
}

// Written by hand so that the password never reaches a log line.
impl fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field("mail_transport", &self.mail_transport)
            .field("mail_dir", &self.mail_dir)
            .field("mail_from", &self.mail_from)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_tls", &self.smtp_tls)
            .field("smtp_username", &self.smtp_username)
            .field(
                "smtp_password",
                &self.smtp_password.as_ref().map(|_| "[redacted]"),
            )
            .field("smtp_password_file", &self.smtp_password_file)
            .field("smtp_timeout_secs", &self.smtp_timeout_secs)
            .field("sms_dir", &self.sms_dir)
            .finish()
    }
}

impl MailConfig {
    /// For tests: `.eml` files in a folder of the system's temporary directory (tests
    /// point it at a folder of their own).
    pub fn for_tests() -> Self {
        Self {
            mail_transport: MailTransportKind::File,
            mail_dir: std::env::temp_dir().join("civic-panel-test-mail"),
            mail_from: "Residents' Panel <panel@example.gov.uk>".to_owned(),
            smtp_host: None,
            smtp_port: None,
            smtp_tls: SmtpTls::None,
            smtp_username: None,
            smtp_password: None,
            smtp_password_file: None,
            smtp_timeout_secs: 10,
            sms_dir: std::env::temp_dir().join("civic-panel-test-sms"),
        }
    }

    /// The sender, parsed and validated as a mailbox.
    pub fn sender(&self) -> anyhow::Result<Mailbox> {
        self.mail_from.trim().parse::<Mailbox>().with_context(|| {
            format!(
                "CIVIC_PANEL_MAIL_FROM {:?} is not a mailbox such as `Residents' Panel <panel@council.gov.uk>`",
                self.mail_from
            )
        })
    }

    /// The SMTP port: the configured one, or the usual port for the TLS mode.
    pub fn smtp_port_or_default(&self) -> u16 {
        self.smtp_port
            .unwrap_or_else(|| self.smtp_tls.default_port())
    }

    /// How long one delivery may take.
    pub fn smtp_timeout(&self) -> Duration {
        Duration::from_secs(self.smtp_timeout_secs)
    }

    /// The SMTP host, which the smtp transport cannot do without.
    pub(super) fn required_smtp_host(&self) -> anyhow::Result<String> {
        match self.smtp_host.as_deref().map(str::trim) {
            Some(host) if !host.is_empty() => Ok(host.to_owned()),
            _ => bail!("CIVIC_PANEL_SMTP_HOST must be set when CIVIC_PANEL_MAIL_TRANSPORT is smtp"),
        }
    }

    /// User name and password, when the relay needs them. Both forms of the password
    /// at once is refused: which one wins would otherwise be a guess.
    pub(super) fn smtp_credentials(&self) -> anyhow::Result<Option<(String, String)>> {
        let password = match (&self.smtp_password, &self.smtp_password_file) {
            (Some(_), Some(_)) => {
                bail!("set CIVIC_PANEL_SMTP_PASSWORD or CIVIC_PANEL_SMTP_PASSWORD_FILE, not both")
            }
            (Some(password), None) => Some(password.clone()),
            (None, Some(path)) => Some(read_password_file(path)?),
            (None, None) => None,
        };
        match (&self.smtp_username, password) {
            (Some(username), Some(password)) => Ok(Some((username.clone(), password))),
            (None, None) => Ok(None),
            (Some(_), None) => bail!(
                "CIVIC_PANEL_SMTP_USERNAME is set but neither CIVIC_PANEL_SMTP_PASSWORD nor CIVIC_PANEL_SMTP_PASSWORD_FILE is"
            ),
            (None, Some(_)) => {
                bail!("an SMTP password is set but CIVIC_PANEL_SMTP_USERNAME is not")
            }
        }
    }
}

/// Reads a password file, dropping the newline an editor or `echo` leaves at the end.
fn read_password_file(path: &Path) -> anyhow::Result<String> {
    let contents = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read CIVIC_PANEL_SMTP_PASSWORD_FILE {}",
            path.display()
        )
    })?;
    let password = contents.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        bail!("CIVIC_PANEL_SMTP_PASSWORD_FILE {} is empty", path.display());
    }
    Ok(password.to_owned())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::fixtures::{file_config, smtp_config};
    use super::super::{Mailer, SmtpMailer};
    use super::*;

    fn refusal(config: &MailConfig) -> String {
        format!("{:#}", Mailer::from_config(config).unwrap_err())
    }

    #[test]
    fn the_defaults_give_a_file_transport_and_a_valid_sender() {
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            mail: MailConfig,
        }
        let config = Cli::try_parse_from(["civic-panel"]).unwrap().mail;
        assert_eq!(config.mail_transport, MailTransportKind::File);
        assert_eq!(config.mail_dir, PathBuf::from("civic-panel-mail"));
        assert_eq!(config.smtp_tls, SmtpTls::Starttls);
        assert_eq!(config.smtp_timeout_secs, 30);
        let sender = config.sender().unwrap();
        assert_eq!(sender.name.as_deref(), Some("Residents' Panel"));
        assert_eq!(sender.email.to_string(), "panel@localhost");
    }

    #[test]
    fn smtp_without_a_host_is_refused() {
        let config = MailConfig {
            smtp_host: None,
            ..smtp_config()
        };
        assert!(refusal(&config).contains("CIVIC_PANEL_SMTP_HOST must be set"));
        let blank = MailConfig {
            smtp_host: Some("  ".to_owned()),
            ..smtp_config()
        };
        assert!(refusal(&blank).contains("CIVIC_PANEL_SMTP_HOST must be set"));
    }

    #[test]
    fn a_sender_that_is_not_a_mailbox_is_refused() {
        let config = MailConfig {
            mail_from: "Residents' Panel <not an address>".to_owned(),
            ..smtp_config()
        };
        assert!(refusal(&config).contains("CIVIC_PANEL_MAIL_FROM"));
    }

    #[test]
    fn both_password_forms_at_once_are_refused() {
        let config = MailConfig {
            smtp_username: Some("panel".to_owned()),
            smtp_password: Some("secret".to_owned()),
            smtp_password_file: Some(PathBuf::from("/run/secrets/smtp")),
            ..smtp_config()
        };
        assert!(refusal(&config).contains("not both"));
    }

    #[test]
    fn an_unreadable_password_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = MailConfig {
            smtp_username: Some("panel".to_owned()),
            smtp_password_file: Some(dir.path().join("missing")),
            ..smtp_config()
        };
        assert!(refusal(&config).contains("cannot read CIVIC_PANEL_SMTP_PASSWORD_FILE"));
    }

    #[test]
    fn a_password_file_loses_its_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("password");
        std::fs::write(&path, "correct horse battery\r\n").unwrap();
        let config = MailConfig {
            smtp_username: Some("panel".to_owned()),
            smtp_password_file: Some(path),
            ..smtp_config()
        };
        let credentials = config.smtp_credentials().unwrap();
        assert_eq!(
            credentials,
            Some(("panel".to_owned(), "correct horse battery".to_owned()))
        );
    }

    #[test]
    fn a_username_and_a_password_need_each_other() {
        let username_only = MailConfig {
            smtp_username: Some("panel".to_owned()),
            ..smtp_config()
        };
        assert!(refusal(&username_only).contains("CIVIC_PANEL_SMTP_USERNAME is set"));
        let password_only = MailConfig {
            smtp_password: Some("secret".to_owned()),
            ..smtp_config()
        };
        assert!(refusal(&password_only).contains("CIVIC_PANEL_SMTP_USERNAME is not"));
    }

    #[test]
    fn a_zero_timeout_is_refused() {
        let config = MailConfig {
            smtp_timeout_secs: 0,
            sms_dir: std::env::temp_dir().join("civic-panel-test-sms"),
            ..smtp_config()
        };
        assert!(refusal(&config).contains("at least 1"));
    }

    #[test]
    fn smtp_settings_do_not_matter_to_the_file_transport() {
        let dir = tempfile::tempdir().unwrap();
        let config = MailConfig {
            smtp_password: Some("secret".to_owned()),
            smtp_password_file: Some(PathBuf::from("/nowhere")),
            ..file_config(dir.path())
        };
        assert!(matches!(Mailer::from_config(&config), Ok(Mailer::File(_))));
    }

    #[test]
    fn the_port_follows_the_tls_mode_unless_given() {
        for (tls, port, label) in [
            (SmtpTls::Starttls, 587, "STARTTLS"),
            (SmtpTls::Tls, 465, "TLS"),
            (SmtpTls::None, 25, "no TLS"),
        ] {
            let config = MailConfig {
                smtp_tls: tls,
                ..smtp_config()
            };
            let mailer = Mailer::from_config(&config).unwrap();
            assert_eq!(
                mailer.describe(),
                format!("smtp://relay.example.org:{port} ({label})")
            );
        }
        let config = MailConfig {
            smtp_port: Some(2525),
            ..smtp_config()
        };
        assert_eq!(
            Mailer::from_config(&config).unwrap().describe(),
            "smtp://relay.example.org:2525 (STARTTLS)"
        );
    }

    #[test]
    fn the_password_never_appears_in_debug_output() {
        let config = MailConfig {
            smtp_username: Some("panel".to_owned()),
            smtp_password: Some("hunter2-do-not-log".to_owned()),
            ..smtp_config()
        };
        let printed = format!("{config:?}");
        assert!(printed.contains("[redacted]"));
        assert!(!printed.contains("hunter2"));
        let mailer = SmtpMailer::new(&config, config.sender().unwrap()).unwrap();
        assert!(!format!("{mailer:?}").contains("hunter2"));
    }
}
