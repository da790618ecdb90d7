//! Delivery into a folder: one `.eml` file per message, named after its idempotency key.
//!
//! Each file is the complete RFC 5322 message, written under a temporary name in the same
//! folder and renamed into place, so a reader sees either no file or the whole file.
//! Sending the same message again renames identical bytes over the old file, which is
//! what makes a retry harmless.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use lettre::message::Mailbox;

use super::{DeliveryError, OutgoingEmail, message};

/// Tells apart the temporary files of concurrent sends within this process.
static NEXT_TEMPORARY: AtomicU64 = AtomicU64::new(0);

/// Writes each message as a file.
#[derive(Debug)]
pub struct FileMailer {
    dir: PathBuf,
    from: Mailbox,
}

impl FileMailer {
    /// Prepares the folder, creating it if missing, so that a path the server cannot
    /// write to is reported at start-up.
    pub(super) fn new(dir: PathBuf, from: Mailbox) -> anyhow::Result<Self> {
        fs::create_dir_all(&dir).map_err(|error| {
            anyhow::anyhow!("cannot create the mail folder {}: {error}", dir.display())
        })?;
        Ok(Self { dir, from })
    }

    /// Writes one message to `{dir}/{sanitised key}.eml`.
    pub async fn send(&self, email: &OutgoingEmail) -> Result<(), DeliveryError> {
        let bytes = message::build(email, &self.from)?.formatted();
        let stem = message::sanitise_key(&email.idempotency_key);
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || write_atomically(&dir, &stem, "eml", &bytes))
            .await
            .map_err(|error| {
                DeliveryError::Transient(format!("the file writer stopped: {error}"))
            })?
    }

    /// `files in {dir}`; a relative folder is shown as `./…` to say where it starts.
    pub fn describe(&self) -> String {
        if self.dir.is_relative() && !self.dir.starts_with(".") {
            format!("files in ./{}", self.dir.display())
        } else {
            format!("files in {}", self.dir.display())
        }
    }

    /// The file a message with this idempotency key is written to.
    pub fn path_for(&self, idempotency_key: &str) -> PathBuf {
        self.dir
            .join(format!("{}.eml", message::sanitise_key(idempotency_key)))
    }
}

/// Writes `bytes` to `{dir}/{stem}.{extension}` through a temporary file and a rename.
///
/// Failures are transient: a full disk or a missing permission can be put right while
/// the message waits in the outbox.
pub(crate) fn write_atomically(
    dir: &Path,
    stem: &str,
    extension: &str,
    bytes: &[u8],
) -> Result<(), DeliveryError> {
    let failed = |what: &str, path: &Path, error: std::io::Error| {
        DeliveryError::Transient(format!("cannot {what} {}: {error}", path.display()))
    };
    // The folder may have been removed since start-up.
    fs::create_dir_all(dir).map_err(|error| failed("create", dir, error))?;
    let target = dir.join(format!("{stem}.{extension}"));
    // A leading dot and a `.tmp` ending keep readers that look for `*.eml` (or `*.sms`) away from
    // half-written files.
    let temporary = dir.join(format!(
        ".{stem}.{}-{}.tmp",
        std::process::id(),
        NEXT_TEMPORARY.fetch_add(1, Ordering::Relaxed)
    ));
    let written = File::create_new(&temporary)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            // On disk before the rename makes it visible, so a crash cannot leave a
            // complete-looking name over incomplete contents.
            file.sync_all()
        })
        .map_err(|error| failed("write", &temporary, error))
        .and_then(|()| {
            fs::rename(&temporary, &target).map_err(|error| failed("rename into", &target, error))
        });
    if written.is_err() {
        // Best effort: the original error is the one worth reporting.
        let _ = fs::remove_file(&temporary);
    }
    written?;
    sync_folder(dir);
    Ok(())
}

/// Makes the rename itself durable where the platform allows syncing a folder.
fn sync_folder(dir: &Path) {
    #[cfg(unix)]
    if let Ok(folder) = File::open(dir) {
        // The file is complete either way; this only narrows the window in which a
        // power cut could forget the new name.
        let _ = folder.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{file_config, invitation};
    use super::super::{Mailer, mime};
    use super::*;

    fn file_mailer(dir: &Path) -> (Mailer, PathBuf) {
        let mailer = Mailer::from_config(&file_config(dir)).unwrap();
        let Mailer::File(file) = &mailer else {
            panic!("expected the file transport");
        };
        let path = file.path_for(&invitation().idempotency_key);
        (mailer, path)
    }

    fn folder_entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn the_file_transport_writes_a_parseable_eml_with_headers_and_both_parts() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("outbox");
        let (mailer, path) = file_mailer(&outbox);
        mailer.send(&invitation()).await.unwrap();

        assert_eq!(
            path.file_name().unwrap(),
            "consultation_3A42_2Finvite_3A7.eml"
        );
        let raw = fs::read(&path).unwrap();
        let header = |name: &str| mime::header(&raw, name).unwrap();
        assert_eq!(header("From"), "Cyngor Sir Ynys Môn <panel@ynysmon.gov.uk>");
        assert_eq!(header("To"), "Siân Llŷr <sian@example.org>");
        assert_eq!(
            header("Subject"),
            "Eich barn: Cynllun y Cyngor — ymgynghoriad"
        );
        assert_eq!(
            header("Message-ID"),
            "<consultation_3A42_2Finvite_3A7@ynysmon.gov.uk>"
        );
        assert_eq!(header("Date"), "Fri, 14 Mar 2025 09:30:00 +0000");
        assert_eq!(
            header("List-Unsubscribe"),
            "<https://panel.example.org/unsubscribe/abc>"
        );
        assert!(header("Content-Type").starts_with("multipart/alternative"));
        assert_eq!(
            mime::body_part(&raw, "text/plain").unwrap(),
            "Annwyl Siân,\n\nDywedwch wrthym beth yw eich barn am ddyfodol Ynys Môn."
        );
        assert_eq!(
            mime::body_part(&raw, "text/html").unwrap(),
            "<p>Annwyl Siân,</p><p>Dywedwch wrthym beth yw eich barn am ddyfodol Ynys Môn.</p>"
        );
    }

    #[tokio::test]
    async fn sending_the_same_key_again_rewrites_the_same_bytes_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let (mailer, path) = file_mailer(dir.path());
        mailer.send(&invitation()).await.unwrap();
        let first = fs::read(&path).unwrap();
        mailer.send(&invitation()).await.unwrap();
        assert_eq!(fs::read(&path).unwrap(), first);
        assert_eq!(
            folder_entries(dir.path()),
            ["consultation_3A42_2Finvite_3A7.eml"]
        );
    }

    #[tokio::test]
    async fn a_folder_removed_after_start_up_is_created_again() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("outbox");
        let (mailer, path) = file_mailer(&outbox);
        fs::remove_dir(&outbox).unwrap();
        mailer.send(&invitation()).await.unwrap();
        assert!(path.is_file());
    }

    #[test]
    fn a_relative_folder_is_described_from_the_working_directory() {
        let from: Mailbox = "panel@localhost".parse().unwrap();
        let mailer = FileMailer {
            dir: PathBuf::from("civic-panel-mail"),
            from: from.clone(),
        };
        assert_eq!(mailer.describe(), "files in ./civic-panel-mail");
        let absolute = FileMailer {
            dir: PathBuf::from("/var/spool/civic-panel"),
            from,
        };
        assert_eq!(absolute.describe(), "files in /var/spool/civic-panel");
    }
}
