//! Registration: a resident redeems the code from their letter and joins the round's pool.
//!
//! Ward, deprivation decile and household come from the drawn address, never from the
//! resident. One registration per code is enforced by the database (the letter is marked
//! redeemed with a conditional update, and `residents.letter_id` is unique), also under
//! concurrent attempts; in one-person-per-household rounds a unique index on the
//! household does the same. Failures that suggest guessing are rate-limited per client
//! address and globally, so codes cannot be guessed (see [`register`]).

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};

use crate::db::entities::{account, address, consent, letter, recruitment_round, resident};
use crate::domain::accounts::account::Account;
use crate::domain::accounts::password::NewPassword;
use crate::domain::accounts::role::Role;
use crate::domain::accounts::session_token::SessionToken;
use crate::domain::email::EmailAddress;
use crate::domain::ids::ResidentId;
use crate::domain::recruitment::invitation_code::InvitationCode;
use crate::domain::register::demographics::{Disability, EthnicGroup, Sex, check_birth_date};
use crate::domain::uk_time::uk_date;
use crate::error::{AppError, AppResult};
use crate::service::accounts;
use crate::service::accounts::auth::ClientAddress;
use crate::service::rate_limit::{self, Limit};
use crate::state::AppState;

/// Consent wording shown at registration, stored with each consent record.
pub const PANEL_CONSENT_WORDING: &str = "I agree to join the residents' panel. The council \
    may contact me about consultations and keep my answers and the profile I gave, to check \
    that the panel reflects the people who live here. I can withdraw at any time.";
/// Version of [`PANEL_CONSENT_WORDING`].
pub const PANEL_CONSENT_VERSION: &str = "2026-11";

/// What a registrant gives.
#[derive(Clone, Debug)]
pub struct RegistrationInput {
    /// The code from the letter, as typed.
    pub code: String,
    /// Trimmed, 1 to 200 characters; also the display name of the account, if one is made.
    pub full_name: String,
    /// Email address (email and/or phone is required).
    pub email: Option<String>,
    /// 10 to 15 digits, stored as digits only (a leading `+` is kept).
    pub phone: Option<String>,
    /// Must give an age from the round's minimum age to 120 on the day of registering
    /// (UK time).
    pub date_of_birth: NaiveDate,
    /// Stored as its census category, as the benchmarks and quotas read it.
    pub sex: Sex,
    /// Stored as its census label, as the benchmarks and quotas read it.
    pub ethnic_group: EthnicGroup,
    /// Stored as its census label, as the benchmarks and quotas read it.
    pub disability: Disability,
    /// Explicit consent to join (must be true).
    pub consent: bool,
    /// A password for the RESIDENT account (needs an email).
    pub password: Option<String>,
}

/// A completed registration.
#[derive(Debug)]
pub struct Registered {
    /// The new resident.
    pub resident_id: ResidentId,
    /// The resident's account, when an email was given.
    pub account: Option<Account>,
    /// A session for that account, so the client is logged in straight away.
    pub session: Option<(SessionToken, DateTime<Utc>)>,
    /// Whether the round's incentive is owed.
    pub incentive_owed: bool,
}

/// The limits on unknown printed codes from one client address and from everyone: shared
/// by registration codes and postal consultation codes, which are the same kind of code,
/// so a guesser gains nothing by alternating between them.
pub(crate) fn code_limits(state: &AppState, client: ClientAddress) -> (Limit, Limit) {
    let hour = chrono::Duration::hours(1);
    (
        Limit {
            bucket: format!("redeem:client:{}", client.key()),
            max: state.config.redeem_max_failures_per_client,
            window: hour,
        },
        Limit {
            bucket: "redeem:global".to_owned(),
            max: state.config.redeem_max_failures_global,
            window: hour,
        },
    )
}

fn parse_phone(raw: &str) -> AppResult<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let allowed = raw
        .chars()
        .all(|c| c.is_ascii_digit() || " +-()".contains(c));
    if !allowed || !(10..=15).contains(&digits.len()) {
        return Err(AppError::bad_input(
            "input.phone",
            "Give a phone number of 10 to 15 digits.",
        ));
    }
    Ok(if raw.trim_start().starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    })
}

struct Checked {
    code: InvitationCode,
    full_name: String,
    email: Option<EmailAddress>,
    phone: Option<String>,
    password: Option<NewPassword>,
}

/// Everything that can be checked without the database.
fn check_input(input: &RegistrationInput) -> AppResult<Checked> {
    let code = InvitationCode::parse(&input.code)
        .map_err(|e| AppError::bad_input("input.code", e.to_string()))?;
    let full_name = crate::domain::accounts::account::parse_display_name(&input.full_name)
        .map_err(|m| AppError::bad_input("input.fullName", m.replace("Display name", "Name")))?;
    let email = input
        .email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(EmailAddress::parse)
        .transpose()
        .map_err(|e| AppError::bad_input("input.email", e.to_string()))?;
    let phone = input
        .phone
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        .map(parse_phone)
        .transpose()?;
    if email.is_none() && phone.is_none() {
        return Err(AppError::bad_input(
            "input.email",
            "Give an email address or a phone number so we can reach you.",
        ));
    }
    let password = input
        .password
        .as_deref()
        .map(NewPassword::parse)
        .transpose()
        .map_err(|e| AppError::bad_input("input.password", e.to_string()))?;
    if password.is_some() && email.is_none() {
        return Err(AppError::bad_input(
            "input.password",
            "A password needs an email address to log in with.",
        ));
    }
    if !input.consent {
        return Err(AppError::bad_input(
            "input.consent",
            "Joining the panel needs your consent.",
        ));
    }
    Ok(Checked {
        code,
        full_name,
        email,
        phone,
        password,
    })
}

/// A registration that failed after its code was found, and whether the failure counts
/// towards the rate limits (probing which emails have accounts does).
struct Failure {
    error: AppError,
    counts: bool,
}

impl From<AppError> for Failure {
    fn from(error: AppError) -> Self {
        Self {
            error,
            counts: false,
        }
    }
}

impl From<sea_orm::DbErr> for Failure {
    fn from(err: sea_orm::DbErr) -> Self {
        AppError::from(err).into()
    }
}

fn counted(error: AppError) -> Failure {
    Failure {
        error,
        counts: true,
    }
}

/// Registers a resident with an invitation code. See the module documentation.
///
/// Only failures that suggest guessing are counted: a code that is well formed but
/// unknown (a mistyped one is caught by its check character and says nothing about any
/// real code), or an email that already has an account. Codes are looked up one at a time
/// under the global limit's lock ([`rate_limit::Serial`]), so attempts in flight never
/// count and a burst of guesses gets no more lookups than the limit. A client past its own
/// limit has its unknown codes refused with `RATE_LIMITED`, while a valid code from the
/// same address still registers: people sharing an address (a library, a college, a
/// mobile network) are not refused for each other's mistakes. The global limit, counting
/// every failure from everywhere, is what bounds guessing; past it nobody registers until
/// the window moves on.
pub async fn register(
    state: &AppState,
    input: RegistrationInput,
    client: ClientAddress,
) -> AppResult<Registered> {
    let now = state.clock.now();
    let checked = check_input(&input)?;
    let (client, global) = code_limits(state, client);
    let lookup = rate_limit::Serial::begin(state.db.writer(), &global, now).await?;
    let found = letter::Entity::find()
        .filter(letter::Column::CodeHash.is_in(state.codes.lookup_hashes(&checked.code)))
        .one(lookup.connection())
        .await?;
    let Some(letter) = found else {
        lookup.failed(&[client, global]).await?;
        return Err(AppError::NotFound {
            what: "invitation with this code",
        });
    };
    lookup.passed().await?;
    match register_found(state, &input, checked, letter, now).await {
        Ok(registered) => Ok(registered),
        Err(failure) => {
            if failure.counts {
                rate_limit::count_failure(state.db.writer(), &[client, global], now).await?;
            }
            Err(failure.error)
        }
    }
}

/// Registers the holder of `letter`'s code.
async fn register_found(
    state: &AppState,
    input: &RegistrationInput,
    checked: Checked,
    letter: letter::Model,
    now: DateTime<Utc>,
) -> Result<Registered, Failure> {
    let round = recruitment_round::Entity::find_by_id(letter.round_id)
        .one(state.db.reader())
        .await?
        .ok_or(AppError::NotFound {
            what: "recruitment round",
        })?;
    if letter.redeemed_at.is_some() {
        return Err(AppError::conflict("This code has already been used to register.").into());
    }
    if now > round.code_expires_at {
        return Err(AppError::bad_input("input.code", "This invitation code has expired.").into());
    }
    let min_age = u32::try_from(round.min_age).unwrap_or(16);
    check_birth_date(input.date_of_birth, uk_date(now), min_age)
        .map_err(|e| AppError::bad_input("input.dateOfBirth", e.to_string()))?;
    let address = address::Entity::find_by_id(letter.address_id)
        .one(state.db.reader())
        .await
        .map_err(AppError::from)?
        .ok_or_else(|| {
            AppError::internal(anyhow::anyhow!("letter {} has no address", letter.id))
        })?;
    let password_hash = match &checked.password {
        Some(password) => Some(state.passwords.hash(password).await?),
        None => None,
    };

    let txn = state.db.writer().begin().await.map_err(AppError::from)?;
    let claimed = letter::Entity::update_many()
        .col_expr(letter::Column::RedeemedAt, Expr::value(now))
        .filter(letter::Column::Id.eq(letter.id))
        .filter(letter::Column::RedeemedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        txn.rollback().await?;
        return Err(AppError::conflict("This code has already been used to register.").into());
    }
    let account = match &checked.email {
        Some(email) => {
            let inserted = account::ActiveModel {
                email: Set(email.as_str().to_owned()),
                display_name: Set(checked.full_name.clone()),
                role: Set(Role::Resident),
                password_hash: Set(password_hash),
                created_at: Set(now),
                updated_at: Set(now),
                disabled_at: Set(None),
                ..Default::default()
            }
            .insert(&txn)
            .await
            .map_err(|err| match AppError::from(err) {
                AppError::Conflict { .. } => counted(AppError::conflict(format!(
                    "An account with the email {email} already exists: log in, or use another address."
                ))),
                other => other.into(),
            })?;
            Some(accounts::to_domain(inserted)?)
        }
        None => None,
    };
    let incentive_owed = round.incentive_description.is_some();
    let resident = resident::ActiveModel {
        account_id: Set(account.as_ref().map(|a| a.id)),
        letter_id: Set(letter.id),
        round_id: Set(round.id),
        address_id: Set(address.id),
        household_key: Set(address.household_key.clone()),
        household_lock: Set(round
            .one_per_household
            .then(|| address.household_key.clone())),
        ward_code: Set(address.ward_code.clone()),
        deprivation_decile: Set(address.deprivation_decile),
        full_name: Set(checked.full_name),
        email: Set(checked.email.as_ref().map(|e| e.as_str().to_owned())),
        phone: Set(checked.phone),
        date_of_birth: Set(input.date_of_birth),
        sex: Set(input.sex.category().to_owned()),
        ethnic_group: Set(input.ethnic_group.category().to_owned()),
        disability: Set(input.disability.category().to_owned()),
        registered_at: Set(now),
        incentive_owed: Set(incentive_owed),
        incentive_fulfilled_at: Set(None),
        withdrawn_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|err| match AppError::from(err) {
        AppError::Conflict { .. } => {
            AppError::conflict("Someone from this household has already joined the panel.")
        }
        other => other,
    })?;
    consent::ActiveModel {
        resident_id: Set(resident.id),
        purpose: Set("panel_membership".to_owned()),
        wording: Set(PANEL_CONSENT_WORDING.to_owned()),
        version: Set(PANEL_CONSENT_VERSION.to_owned()),
        given_at: Set(now),
        withdrawn_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(AppError::from)?;
    // With a password the resident is logged in now; without one, a one-time login link
    // is queued to their email.
    let session = match (&account, &checked.password) {
        (Some(account), Some(_)) => {
            Some(crate::service::accounts::sessions::open_in(&txn, state, account.id).await?)
        }
        (Some(account), None) => {
            crate::service::accounts::login_links::issue_in(&txn, state, account).await?;
            None
        }
        _ => None,
    };
    txn.commit().await.map_err(AppError::from)?;
    state.work_queued.notify_one();
    tracing::info!(
        resident_id = %resident.id,
        round_id = %round.id,
        "resident registered"
    );
    Ok(Registered {
        resident_id: resident.id,
        account,
        session,
        incentive_owed,
    })
}
