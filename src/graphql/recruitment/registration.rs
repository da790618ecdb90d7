//! Registration with an invitation code (public: the caller has no account yet).

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::register::demographics::{self, Disability, EthnicGroup};
use crate::graphql::accounts::AccountNode;
use crate::graphql::context;
use crate::graphql::id;
use crate::service::recruitment::registration::{self, RegistrationInput};

/// Sex, as asked in the 2021 Census.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Sex {
    /// Counted in the census benchmarks' `female` category.
    Female,
    /// Counted in the census benchmarks' `male` category.
    Male,
}

/// Disability under the Equality Act, as asked in the 2021 Census.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "Disability")]
pub enum DisabilityValue {
    /// Day-to-day activities limited by a long-term condition (disabled under the Act).
    Disabled,
    /// Not disabled under the Equality Act.
    NotDisabled,
}

/// The 19 ethnic groups of the 2021 Census in England and Wales.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "EthnicGroup")]
pub enum EthnicGroupValue {
    /// Asian, Asian British or Asian Welsh: Bangladeshi.
    AsianBangladeshi,
    /// Asian, Asian British or Asian Welsh: Chinese.
    AsianChinese,
    /// Asian, Asian British or Asian Welsh: Indian.
    AsianIndian,
    /// Asian, Asian British or Asian Welsh: Pakistani.
    AsianPakistani,
    /// Asian, Asian British or Asian Welsh: Other Asian.
    AsianOther,
    /// Black, Black British, Black Welsh, Caribbean or African: African.
    BlackAfrican,
    /// Black, Black British, Black Welsh, Caribbean or African: Caribbean.
    BlackCaribbean,
    /// Black, Black British, Black Welsh, Caribbean or African: Other Black.
    BlackOther,
    /// Mixed or Multiple ethnic groups: White and Asian.
    MixedWhiteAndAsian,
    /// Mixed or Multiple ethnic groups: White and Black African.
    MixedWhiteAndBlackAfrican,
    /// Mixed or Multiple ethnic groups: White and Black Caribbean.
    MixedWhiteAndBlackCaribbean,
    /// Mixed or Multiple ethnic groups: Other Mixed or Multiple ethnic groups.
    MixedOther,
    /// White: English, Welsh, Scottish, Northern Irish or British.
    WhiteBritish,
    /// The census label "White: Irish".
    WhiteIrish,
    /// The census label "White: Gypsy or Irish Traveller".
    WhiteGypsyOrIrishTraveller,
    /// The census label "White: Roma".
    WhiteRoma,
    /// The census label "White: Other White".
    WhiteOther,
    /// Other ethnic group: Arab.
    OtherArab,
    /// Other ethnic group: Any other ethnic group.
    OtherAny,
}

impl From<EthnicGroupValue> for EthnicGroup {
    fn from(value: EthnicGroupValue) -> Self {
        use EthnicGroupValue as V;
        match value {
            V::AsianBangladeshi => Self::AsianBangladeshi,
            V::AsianChinese => Self::AsianChinese,
            V::AsianIndian => Self::AsianIndian,
            V::AsianPakistani => Self::AsianPakistani,
            V::AsianOther => Self::AsianOther,
            V::BlackAfrican => Self::BlackAfrican,
            V::BlackCaribbean => Self::BlackCaribbean,
            V::BlackOther => Self::BlackOther,
            V::MixedWhiteAndAsian => Self::MixedWhiteAndAsian,
            V::MixedWhiteAndBlackAfrican => Self::MixedWhiteAndBlackAfrican,
            V::MixedWhiteAndBlackCaribbean => Self::MixedWhiteAndBlackCaribbean,
            V::MixedOther => Self::MixedOther,
            V::WhiteBritish => Self::WhiteBritish,
            V::WhiteIrish => Self::WhiteIrish,
            V::WhiteGypsyOrIrishTraveller => Self::WhiteGypsyOrIrishTraveller,
            V::WhiteRoma => Self::WhiteRoma,
            V::WhiteOther => Self::WhiteOther,
            V::OtherArab => Self::OtherArab,
            V::OtherAny => Self::OtherAny,
        }
    }
}

/// A resident joining the panel with the code from their letter.
#[derive(InputObject)]
pub struct RegistrationCreateInput {
    /// The invitation code, as printed (case, spaces and hyphens do not matter).
    pub code: String,
    /// 1 to 200 characters; also the display name of their account, when they get one.
    pub full_name: String,
    /// Email address (an email or a phone number is required).
    pub email: Option<String>,
    /// 10 to 15 digits; spaces, `+`, `-` and brackets may separate them.
    pub phone: Option<String>,
    /// Date of birth (YYYY-MM-DD).
    pub date_of_birth: NaiveDate,
    /// As the census asks it, so the pool can be compared with the census benchmarks.
    pub sex: Sex,
    /// One of the census's 19 groups, compared with the census benchmarks.
    pub ethnic_group: EthnicGroupValue,
    /// Disability under the Equality Act, compared with the census benchmarks.
    pub disability: DisabilityValue,
    /// Agreement to join the panel, in the words of `registrationConsentWording`. Must be true.
    pub consent: bool,
    /// A password for logging in (needs an email; at least 12 characters).
    pub password: Option<String>,
}

/// The registration made.
#[derive(SimpleObject)]
pub struct RegistrationCreatePayload {
    /// The new resident.
    pub resident_id: ID,
    /// Their RESIDENT account, when an email was given.
    pub account: Option<AccountNode>,
    /// A session token for that account when a password was set (send as Bearer).
    pub token: Option<String>,
    /// When the token expires.
    pub token_expires_at: Option<DateTime<Utc>>,
    /// Whether the round's incentive for joining is owed to them.
    pub incentive_owed: bool,
}

/// The `Query` field a registrant reads first: the consent wording (public).
#[derive(Default)]
pub struct RegistrationQuery;

#[Object]
impl RegistrationQuery {
    /// The consent wording a registrant agrees to (public).
    async fn registration_consent_wording(&self) -> &'static str {
        registration::PANEL_CONSENT_WORDING
    }
}

/// The `Mutation` field that registers a resident with the code from their letter
/// (public).
#[derive(Default)]
pub struct RegistrationMutation;

#[Object]
impl RegistrationMutation {
    /// Registers a resident with an invitation code (public). Ward and deprivation come
    /// from the invited address. A code works once; failed attempts are rate-limited.
    async fn registration_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The code and the resident's profile.")] input: RegistrationCreateInput,
    ) -> async_graphql::Result<RegistrationCreatePayload> {
        let state = context::state(ctx)?;
        let client = context::request(ctx).client;
        let registered = registration::register(
            state,
            RegistrationInput {
                code: input.code,
                full_name: input.full_name,
                email: input.email,
                phone: input.phone,
                date_of_birth: input.date_of_birth,
                sex: match input.sex {
                    Sex::Female => demographics::Sex::Female,
                    Sex::Male => demographics::Sex::Male,
                },
                ethnic_group: input.ethnic_group.into(),
                disability: match input.disability {
                    DisabilityValue::Disabled => Disability::Disabled,
                    DisabilityValue::NotDisabled => Disability::NotDisabled,
                },
                consent: input.consent,
                password: input.password,
            },
            client,
        )
        .await?;
        let (token, token_expires_at) = match registered.session {
            Some((token, expires)) => (Some(token.expose().to_owned()), Some(expires)),
            None => (None, None),
        };
        Ok(RegistrationCreatePayload {
            resident_id: id::encode(registered.resident_id),
            account: registered.account.map(AccountNode),
            token,
            token_expires_at,
            incentive_owed: registered.incentive_owed,
        })
    }
}
