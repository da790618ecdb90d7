//! What happened to an invitation: its events, the furthest state they reach, and whether
//! an open was a person or a machine.
//!
//! An invitation moves `created → sent → opened → clicked → started → completed`; a bounce
//! stands apart. Events can arrive out of order (a click tracked before its open, a
//! completion on paper with no open at all), so the invitation keeps the furthest state
//! any event reached, never moving back.
//!
//! Many opens are not people: Apple Mail Privacy Protection fetches every image of every
//! message through Apple's relays, and webmail image proxies fetch images when a message
//! arrives. Such opens are flagged (`machine`) and reported apart: an open from a known
//! proxy's address range or user agent, or one that comes with a message rather than
//! after it: before any of the invitation's messages is recorded as sent, while one is
//! being handed to the relay, or within seconds of a hand-off's start or its acceptance
//! ([`OpenRules::is_machine`]).

use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

use crate::domain::ids::InvitationId;

crate::stored_names! {
    /// Where an invitation has got to, in order.
    #[derive(PartialOrd, Ord)]
    pub enum Stage ("invitation stage") {
        /// Made, not yet sent.
        Created = "created",
        /// Handed to the transport (email, SMS) or printed.
        Sent = "sent",
        /// The tracking image was fetched by a person.
        Opened = "opened",
        /// The link was followed.
        Clicked = "clicked",
        /// The first answer was saved.
        Started = "started",
        /// Submitted.
        Completed = "completed",
    }
}

impl Stage {
    /// The stages at or beyond this one: an invitation "reached" a stage when it got at
    /// least this far, whichever events it took (a click with images blocked has been
    /// opened; a paper answer has been sent, opened, clicked and started).
    pub fn and_beyond(self) -> &'static [Stage] {
        let from = Self::ALL.iter().position(|&s| s == self).unwrap_or(0);
        &Self::ALL[from..]
    }

    /// The furthest of the current stage and an event's: stages never move back.
    pub fn advance(self, event: Stage) -> Stage {
        self.max(event)
    }
}

crate::stored_names! {
    /// What happened to an invitation: one tracking event's kind.
    pub enum EventKind ("tracking event kind") {
        /// The transport accepted the message (or the letter was printed).
        Sent = "sent",
        /// The transport reported that it could not be delivered.
        Bounced = "bounced",
        /// The tracking image was fetched.
        Opened = "opened",
        /// The link was followed.
        Clicked = "clicked",
        /// The first answer was saved.
        Started = "started",
        /// The answers were submitted.
        Completed = "completed",
        /// A reminder was queued.
        Reminded = "reminded",
    }
}

impl EventKind {
    /// The stage the event moves an invitation to, if any (a machine open moves none).
    pub fn stage(self, machine: bool) -> Option<Stage> {
        match self {
            Self::Sent => Some(Stage::Sent),
            Self::Opened if !machine => Some(Stage::Opened),
            Self::Clicked => Some(Stage::Clicked),
            Self::Started => Some(Stage::Started),
            Self::Completed => Some(Stage::Completed),
            Self::Opened | Self::Bounced | Self::Reminded => None,
        }
    }
}

/// An address range, `192.0.2.0/24` or `2001:db8::/32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// A range that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an address range such as 192.0.2.0/24")]
pub struct BadCidr(pub String);

impl FromStr for Cidr {
    type Err = BadCidr;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadCidr(s.to_owned());
        let (address, prefix) = s.trim().split_once('/').ok_or_else(bad)?;
        let network: IpAddr = address.trim().parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.trim().parse().map_err(|_| bad())?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        if prefix > bits {
            return Err(bad());
        }
        Ok(Self { network, prefix })
    }
}

impl Cidr {
    /// Whether `address` is in the range (an IPv4 address mapped into IPv6 counts as IPv4).
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, address) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// User agents of services that fetch images on a reader's behalf (Gmail's image proxy,
/// Yahoo's, Outlook's link and image scanners), matched case-insensitively as substrings.
pub const PROXY_USER_AGENTS: [&str; 5] = [
    "googleimageproxy",
    "yahoomailproxy",
    "ymailproxy",
    "ms-office-linkscanner",
    "barracuda",
];

/// How opens are told apart from machines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenRules {
    /// Opens this soon after sending are machines (proxies fetch on arrival).
    pub within_seconds: i64,
    /// Address ranges of mail-privacy relays (Apple publishes its Private Relay and Mail
    /// Privacy Protection egress ranges; load them from the published list).
    pub proxy_ranges: Vec<Cidr>,
}

impl Default for OpenRules {
    fn default() -> Self {
        Self {
            within_seconds: 10,
            proxy_ranges: Vec::new(),
        }
    }
}

/// One of an invitation's email messages as delivery has it, for telling whether an open
/// came with it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Handoff {
    /// When its latest hand-off to the relay began (its claim).
    pub began: Option<DateTime<Utc>>,
    /// When the relay accepted it.
    pub accepted: Option<DateTime<Utc>>,
    /// While a hand-off is under way: until when its worker holds it.
    pub held_until: Option<DateTime<Utc>>,
}

impl OpenRules {
    /// Whether an open at `at` of an invitation whose email messages are `messages`, from
    /// `address` with `user_agent`, was a machine rather than a person. It was when:
    ///
    /// - none of the messages is recorded as sent yet (no person can be reading one), or
    ///   one is being handed to the relay at that moment: mail servers fetch images as a
    ///   message lands, before the relay's acceptance is written;
    /// - it came within `within_seconds` of a hand-off's start, or of a message's
    ///   acceptance (proxies fetch on arrival, however long the hand-off took);
    /// - it came from a proxy's address range, or with an image proxy's user agent.
    pub fn is_machine(
        &self,
        at: DateTime<Utc>,
        messages: &[Handoff],
        address: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> bool {
        let window = Duration::seconds(self.within_seconds);
        let soon_after =
            |moment: Option<DateTime<Utc>>| moment.is_some_and(|m| m <= at && at < m + window);
        let handing_over = |began: Option<DateTime<Utc>>, held: Option<DateTime<Utc>>| {
            began.is_some_and(|b| b <= at) && held.is_some_and(|h| at < h)
        };
        // Between a hand-off's start and its acceptance, however late the acceptance was
        // written beside the open.
        let during = |m: &Handoff| {
            m.began.is_some_and(|b| b <= at)
                && m.accepted
                    .map_or_else(|| handing_over(m.began, m.held_until), |a| at < a)
        };
        if messages.iter().all(|m| m.accepted.is_none())
            || messages.iter().any(during)
            || messages
                .iter()
                .any(|m| soon_after(m.began) || soon_after(m.accepted))
        {
            return true;
        }
        if let Some(address) = address
            && self
                .proxy_ranges
                .iter()
                .any(|range| range.contains(address))
        {
            return true;
        }
        user_agent.is_some_and(|agent| {
            let agent = agent.to_lowercase();
            PROXY_USER_AGENTS.iter().any(|proxy| agent.contains(proxy))
        })
    }
}

/// The outbox key of an invitation's first message.
pub fn invite_key(invitation: InvitationId) -> String {
    format!("consultation-invite:{invitation}")
}

/// The outbox key of an invitation's `n`th reminder.
pub fn reminder_key(invitation: InvitationId, n: u32) -> String {
    format!("consultation-reminder:{invitation}:{n}")
}

/// The invitation an outbox message belongs to, from its key.
pub fn invitation_of_key(key: &str) -> Option<InvitationId> {
    let rest = key
        .strip_prefix("consultation-invite:")
        .or_else(|| key.strip_prefix("consultation-reminder:"))?;
    rest.split(':').next()?.parse().ok().map(InvitationId)
}

/// Reads a list of address ranges, one per line; anything after the range on a line (a
/// comma and a country code, as in Apple's published CSV) and lines starting with `#` are
/// ignored. Returns the ranges and the lines that did not parse.
pub fn read_ranges(text: &str) -> (Vec<Cidr>, Vec<String>) {
    let mut ranges = Vec::new();
    let mut bad = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let first = line.split(',').next().unwrap_or("");
        match first.parse() {
            Ok(range) => ranges.push(range),
            Err(_) => bad.push(line.to_owned()),
        }
    }
    (ranges, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_furthest_stage_is_kept_whatever_order_events_arrive_in() {
        let mut stage = Stage::Created;
        for event in [Stage::Sent, Stage::Clicked, Stage::Opened, Stage::Started] {
            stage = stage.advance(event);
        }
        assert_eq!(stage, Stage::Started);
        assert_eq!(Stage::Completed.advance(Stage::Opened), Stage::Completed);
        for stage in Stage::ALL {
            assert_eq!(stage.as_str().parse::<Stage>().unwrap(), stage);
        }
        assert!("bounced".parse::<Stage>().is_err());
    }

    #[test]
    fn address_ranges_match_their_addresses_only() {
        let v4: Cidr = "17.58.0.0/16".parse().unwrap();
        assert!(v4.contains("17.58.200.1".parse().unwrap()));
        assert!(!v4.contains("17.59.0.1".parse().unwrap()));
        assert!(v4.contains("::ffff:17.58.1.1".parse().unwrap()));
        let v6: Cidr = "2a02:26f7:b3c0:4000::/64".parse().unwrap();
        assert!(v6.contains("2a02:26f7:b3c0:4000::1".parse().unwrap()));
        assert!(!v6.contains("2a02:26f7:b3c0:4001::1".parse().unwrap()));
        assert!(!v6.contains("17.58.0.1".parse().unwrap()));
        let everything: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(everything.contains("8.8.8.8".parse().unwrap()));
        for bad in ["17.58.0.0", "17.58.0.0/33", "nonsense/8", "::/129"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn machine_opens_are_told_apart_from_people() {
        let (ranges, bad) = read_ranges(
            "# egress ranges\n172.224.224.0/27,GB,GB-ENG,London,\n2a02:26f7:b3c0:4000::/64,GB,GB-ENG,London,\nnot a range\n",
        );
        assert_eq!(ranges.len(), 2);
        assert_eq!(bad, ["not a range"]);
        let rules = OpenRules {
            proxy_ranges: ranges,
            ..OpenRules::default()
        };
        let person = Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/133.0");
        let home: Option<IpAddr> = "81.2.69.160".parse().ok();
        let sent = [delivered(0, 1)];
        assert!(!rules.is_machine(at(3_600), &sent, home, person));
        // Within seconds of sending, from a relay, or through an image proxy: machines.
        assert!(rules.is_machine(at(2), &sent, home, person));
        assert!(rules.is_machine(at(3_600), &sent, "172.224.224.5".parse().ok(), person));
        assert!(rules.is_machine(
            at(3_600),
            &sent,
            home,
            Some("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)")
        ));
        // Nothing else known about a sent message's open an hour on: a person.
        assert!(!rules.is_machine(at(3_600), &sent, None, None));
    }

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + second, 0).unwrap_or_default()
    }

    /// A message handed off at `began` and accepted at `accepted` (seconds).
    fn delivered(began: i64, accepted: i64) -> Handoff {
        Handoff {
            began: Some(at(began)),
            accepted: Some(at(accepted)),
            held_until: None,
        }
    }

    #[test]
    fn an_open_that_comes_with_its_message_is_a_machine() {
        let rules = OpenRules::default();
        // Before anything is recorded as sent: while its hand-off is under way (however
        // long), or once its worker died holding it.
        let going = Handoff {
            began: Some(at(0)),
            accepted: None,
            held_until: Some(at(60)),
        };
        assert!(rules.is_machine(at(1), &[going], None, None));
        assert!(rules.is_machine(at(45), &[going], None, None));
        assert!(rules.is_machine(at(600), &[going], None, None));
        assert!(rules.is_machine(at(600), &[Handoff::default()], None, None));
        // A slow relay: accepted 30 s after its hand-off began, fetched as it lands, or
        // fetched while it was still being handed over (the acceptance written first).
        assert!(rules.is_machine(at(32), &[delivered(0, 30)], None, None));
        assert!(rules.is_machine(at(15), &[delivered(0, 30)], None, None));
        assert!(!rules.is_machine(at(45), &[delivered(0, 30)], None, None));
        // A reminder being handed off: the open comes with it, though the invitation
        // went days ago; a person's open of the invitation before the reminder is not.
        let day = 86_400;
        let reminder = Handoff {
            began: Some(at(3 * day)),
            accepted: None,
            held_until: Some(at(3 * day + 60)),
        };
        let both = [delivered(0, 1), reminder];
        assert!(rules.is_machine(at(3 * day + 2), &both, None, None));
        assert!(!rules.is_machine(at(2 * day), &both, None, None));
        // A reminder that failed for now (no longer held) leaves opens of the invitation
        // to people.
        let retrying = Handoff {
            held_until: None,
            ..reminder
        };
        assert!(!rules.is_machine(
            at(3 * day + 3_600),
            &[delivered(0, 1), retrying],
            None,
            None
        ));
        // Reminded, then opened on arrival of the reminder.
        let reminded = [delivered(0, 1), delivered(3 * day, 3 * day + 1)];
        assert!(rules.is_machine(at(3 * day + 5), &reminded, None, None));
        assert!(!rules.is_machine(at(3 * day + 60), &reminded, None, None));
    }
}
