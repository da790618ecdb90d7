//! Recruitment rounds in the API: drawing, planning, status and incentives.

use std::collections::BTreeMap;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::composition::CompositionRow;
use crate::error::AppError;
use crate::graphql::context;
use crate::graphql::guard::RoleGuard;
use crate::graphql::id;
use crate::service::incentives;
use crate::service::recruitment::{self, Round, RoundInput};
use crate::service::round_status::{self, Funnel};

/// ID kind of rounds.
pub const ROUND: &str = "RecruitmentRound";
/// ID kind of residents.
pub const RESIDENT: &str = "Resident";

/// An oversampling weight for one deprivation decile.
#[derive(InputObject)]
pub struct DecileWeightInput {
    /// Index of Multiple Deprivation decile, 1 (most deprived) to 10.
    pub decile: i32,
    /// Relative chance of an address in this decile being drawn (1 = proportional).
    pub weight: f64,
}

/// An incentive for joining.
#[derive(InputObject)]
pub struct IncentiveInput {
    /// What registrants receive, e.g. "£10 shopping voucher".
    pub description: String,
    /// Its value in pence, for finance.
    pub amount_pence: Option<i32>,
}

/// A new recruitment round and its draw.
#[derive(InputObject)]
pub struct RecruitmentRoundCreateInput {
    /// A name officers recognise, e.g. "Spring 2027 recruitment".
    pub name: String,
    /// Letters to draw (1 to 1,000,000).
    pub letters: i32,
    /// Seed for the draw, a decimal number below 2^64. A random seed is chosen and stored
    /// when absent; with the seed anyone can re-run the draw.
    pub seed: Option<String>,
    /// Oversampling weights per deprivation decile (others weigh 1).
    #[graphql(default)]
    pub decile_weights: Vec<DecileWeightInput>,
    /// Leave out addresses sent a letter within this many months.
    pub exclude_invited_within_months: Option<i32>,
    /// Leave out households that already have a member.
    #[graphql(default = true)]
    pub exclude_member_households: bool,
    /// Days the invitation codes stay valid.
    #[graphql(default = 90)]
    pub code_valid_days: i32,
    /// Youngest age at which a resident may register.
    #[graphql(default = 16)]
    pub min_age: i32,
    /// Allow only one registrant per household.
    #[graphql(default = false)]
    pub one_per_household: bool,
    /// An incentive for joining, if any.
    pub incentive: Option<IncentiveInput>,
}

fn to_input(input: RecruitmentRoundCreateInput) -> Result<RoundInput, AppError> {
    fn bad(field: &str, message: impl Into<String>) -> AppError {
        AppError::bad_input(field, message)
    }
    let seed = input
        .seed
        .map(|s| s.trim().parse::<u64>())
        .transpose()
        .map_err(|_| {
            bad(
                "input.seed",
                "The seed must be a whole number from 0 to 18446744073709551615.",
            )
        })?;
    let letters = u64::try_from(input.letters)
        .map_err(|_| bad("input.letters", "Draw at least one letter."))?;
    let mut decile_weights = BTreeMap::new();
    for w in input.decile_weights {
        let decile = i16::try_from(w.decile)
            .map_err(|_| bad("input.decileWeights", "Deciles run from 1 to 10."))?;
        if decile_weights.insert(decile, w.weight).is_some() {
            return Err(bad(
                "input.decileWeights",
                format!("Decile {decile} is weighted twice."),
            ));
        }
    }
    let months = input
        .exclude_invited_within_months
        .map(u32::try_from)
        .transpose()
        .map_err(|_| {
            bad(
                "input.excludeInvitedWithinMonths",
                "Months cannot be negative.",
            )
        })?;
    let (incentive_description, incentive_amount_pence) = match input.incentive {
        Some(i) if i.description.trim().is_empty() => {
            return Err(bad(
                "input.incentive.description",
                "Describe the incentive.",
            ));
        }
        Some(i) => (Some(i.description.trim().to_owned()), i.amount_pence),
        None => (None, None),
    };
    if incentive_amount_pence.is_some_and(|p| p < 0) {
        return Err(bad(
            "input.incentive.amountPence",
            "The amount cannot be negative.",
        ));
    }
    Ok(RoundInput {
        name: input.name,
        letters,
        seed,
        decile_weights,
        exclude_invited_within_months: months,
        exclude_member_households: input.exclude_member_households,
        code_valid_days: u32::try_from(input.code_valid_days).unwrap_or(0),
        min_age: u8::try_from(input.min_age).unwrap_or(0),
        one_per_household: input.one_per_household,
        incentive_description,
        incentive_amount_pence,
    })
}

/// Letters, codes and registrations for one group of a round.
#[derive(SimpleObject)]
pub struct RoundFunnel {
    /// Ward code, decile (`1`…`10`, `unknown`) or `all`.
    pub group: String,
    /// Letters drawn.
    pub drawn: u64,
    /// Letters exported for printing.
    pub exported: u64,
    /// Codes redeemed.
    pub redeemed: u64,
    /// Registrants in the pool.
    pub registrations: u64,
    /// Registrations per letter drawn, 0 to 1.
    pub registration_rate: f64,
}

impl From<Funnel> for RoundFunnel {
    fn from(f: Funnel) -> Self {
        Self {
            registration_rate: f.registration_rate(),
            group: f.group,
            drawn: f.drawn,
            exported: f.exported,
            redeemed: f.redeemed,
            registrations: f.registrations,
        }
    }
}

/// A round's progress.
#[derive(SimpleObject)]
pub struct RoundStatusView {
    /// The whole round.
    pub total: RoundFunnel,
    /// Per ward.
    pub by_ward: Vec<RoundFunnel>,
    /// Per deprivation decile.
    pub by_decile: Vec<RoundFunnel>,
}

/// A category of the pool against the population.
#[derive(SimpleObject)]
pub struct CompositionCategory {
    /// Census category label.
    pub category: String,
    /// Registrants in it.
    pub count: u64,
    /// Their share of the pool.
    pub share: f64,
    /// The population share (adults at or above the round's minimum age, for age bands).
    pub population_share: Option<f64>,
    /// Pool share ÷ population share: 1 is proportional, below 1 under-represented.
    pub representation_ratio: Option<f64>,
}

impl From<CompositionRow> for CompositionCategory {
    fn from(r: CompositionRow) -> Self {
        Self {
            category: r.category,
            count: r.count,
            share: r.share,
            population_share: r.population_share,
            representation_ratio: r.ratio,
        }
    }
}

/// One dimension of the pool's make-up.
#[derive(SimpleObject)]
pub struct CompositionDimensionView {
    /// `age_band`, `sex`, `ethnic_group` or `disability`.
    pub dimension: String,
    /// Its categories.
    pub categories: Vec<CompositionCategory>,
}

/// A registrant owed the round's incentive.
#[derive(SimpleObject)]
pub struct IncentiveClaim {
    /// The resident.
    pub resident_id: ID,
    /// Their name.
    pub full_name: String,
    /// Their email, if given.
    pub email: Option<String>,
    /// When they registered.
    pub owed_since: DateTime<Utc>,
    /// When the incentive was given, if it has been.
    pub fulfilled_at: Option<DateTime<Utc>>,
}

/// An incentive offered by a round.
#[derive(SimpleObject)]
pub struct Incentive {
    /// What registrants receive.
    pub description: String,
    /// Value in pence.
    pub amount_pence: Option<i32>,
}

/// A recruitment round: one address lottery and its letters.
pub struct RoundNode(pub Round);

/// A recruitment round: one address lottery and its letters.
#[Object(name = "RecruitmentRound")]
impl RoundNode {
    /// Opaque identifier.
    async fn id(&self) -> ID {
        id::encode(ROUND, self.0.id)
    }
    /// Its name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The draw's seed (decimal). With the seed, the parameters and the register snapshot
    /// anyone can re-run the draw.
    async fn seed(&self) -> &str {
        &self.0.seed
    }
    /// The named, versioned draw algorithm.
    async fn algorithm(&self) -> &str {
        &self.0.algorithm
    }
    /// The lottery parameters as JSON.
    async fn parameters(&self) -> &str {
        &self.0.parameters
    }
    /// SHA-256 of the eligible register the draw used.
    async fn register_fingerprint(&self) -> &str {
        &self.0.register_fingerprint
    }
    /// Addresses eligible for the draw.
    async fn eligible_count(&self) -> i64 {
        self.0.eligible_count
    }
    /// Letters drawn.
    async fn drawn_count(&self) -> i64 {
        self.0.drawn_count
    }
    /// When the round was drawn.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When its codes stop working.
    async fn code_expires_at(&self) -> DateTime<Utc> {
        self.0.code_expires_at
    }
    /// Youngest age that may register.
    async fn min_age(&self) -> i16 {
        self.0.min_age
    }
    /// Whether only one person per household may register.
    async fn one_per_household(&self) -> bool {
        self.0.one_per_household
    }
    /// The incentive for joining, if any.
    async fn incentive(&self) -> Option<Incentive> {
        self.0
            .incentive_description
            .clone()
            .map(|description| Incentive {
                description,
                amount_pence: self.0.incentive_amount_pence,
            })
    }
    /// Letters drawn, exported and redeemed, and registrations, by ward and decile.
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<RoundStatusView> {
        let status = round_status::status(&context::state(ctx)?.db, self.0.id).await?;
        Ok(RoundStatusView {
            total: status.total.into(),
            by_ward: status.by_ward.into_iter().map(Into::into).collect(),
            by_decile: status.by_decile.into_iter().map(Into::into).collect(),
        })
    }
    /// The registrants' make-up against an area's population benchmarks.
    async fn pool_composition(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "GSS code of the benchmark area, e.g. E07000083.")] area_code: String,
    ) -> async_graphql::Result<Vec<CompositionDimensionView>> {
        let dimensions =
            round_status::pool_composition(context::state(ctx)?, self.0.id, area_code.trim())
                .await?;
        Ok(dimensions
            .into_iter()
            .map(|d| CompositionDimensionView {
                dimension: d.dimension,
                categories: d.rows.into_iter().map(Into::into).collect(),
            })
            .collect())
    }
    /// Registrants owed the incentive, and whether it was given (personal data: OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn incentive_claims(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<IncentiveClaim>> {
        let claims = incentives::claims(&context::state(ctx)?.db, self.0.id).await?;
        Ok(claims
            .into_iter()
            .map(|c| IncentiveClaim {
                resident_id: id::encode(RESIDENT, c.resident_id),
                full_name: c.full_name,
                email: c.email,
                owed_since: c.owed_since,
                fulfilled_at: c.fulfilled_at,
            })
            .collect())
    }
}

/// Letters needed in one ward.
#[derive(SimpleObject)]
pub struct WardPlan {
    /// Ward code.
    pub ward_code: String,
    /// Letters to send there.
    pub letters: u64,
}

/// Letters needed for a target number of registrations.
#[derive(SimpleObject)]
pub struct RecruitmentPlan {
    /// Registrations wanted.
    pub target_registrations: u64,
    /// Expected share of letters that lead to a registration.
    pub expected_rate: f64,
    /// Letters needed in total.
    pub letters_needed: u64,
    /// Letters per ward, in proportion to its addresses.
    pub by_ward: Vec<WardPlan>,
}

/// Recruitment queries.
#[derive(Default)]
pub struct RecruitmentQuery;

#[Object]
impl RecruitmentQuery {
    /// One round.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn recruitment_round(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round's ID.")] id: ID,
    ) -> async_graphql::Result<RoundNode> {
        let round_id = id::decode(ROUND, &id, "id")?;
        Ok(RoundNode(
            recruitment::find_round(&context::state(ctx)?.db, round_id).await?,
        ))
    }

    /// Every round, newest first.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn recruitment_rounds(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RoundNode>> {
        let rounds = recruitment::list_rounds(&context::state(ctx)?.db).await?;
        Ok(rounds.into_iter().map(RoundNode).collect())
    }

    /// Planning help: letters needed for a target number of registrations at an expected
    /// registration rate (typically 3–5 %; default 4 %), by ward.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn recruitment_plan(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Registrations wanted.")] target_registrations: i32,
        #[graphql(
            desc = "Expected registration rate, above 0 and at most 1.",
            default = 0.04
        )]
        expected_rate: f64,
    ) -> async_graphql::Result<RecruitmentPlan> {
        let target = u64::try_from(target_registrations)
            .ok()
            .filter(|t| *t > 0)
            .ok_or_else(|| {
                AppError::bad_input("targetRegistrations", "Aim for at least one registration.")
            })?;
        let (letters_needed, by_ward) =
            recruitment::plan(&context::state(ctx)?.db, target, expected_rate).await?;
        Ok(RecruitmentPlan {
            target_registrations: target,
            expected_rate,
            letters_needed,
            by_ward: by_ward
                .into_iter()
                .map(|(ward_code, letters)| WardPlan { ward_code, letters })
                .collect(),
        })
    }
}

/// The round drawn.
#[derive(SimpleObject)]
pub struct RecruitmentRoundCreatePayload {
    /// The new round.
    pub round: RoundNode,
}

/// Incentives marked as given.
#[derive(InputObject)]
pub struct IncentiveFulfilInput {
    /// Residents who received the incentive.
    pub resident_ids: Vec<ID>,
}

/// How many incentives were marked.
#[derive(SimpleObject)]
pub struct IncentiveFulfilPayload {
    /// Marked now (residents not owed one, or already given it, are not counted).
    pub fulfilled_count: u64,
}

/// Recruitment mutations.
#[derive(Default)]
pub struct RecruitmentMutation;

#[Object]
impl RecruitmentMutation {
    /// Creates a recruitment round and draws its addresses: stratified by ward with
    /// proportional allocation (largest remainder), optional oversampling by deprivation
    /// decile, and exclusions. Codes are minted when the letters are exported.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn recruitment_round_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round and its lottery parameters.")]
        input: RecruitmentRoundCreateInput,
    ) -> async_graphql::Result<RecruitmentRoundCreatePayload> {
        let state = context::state(ctx)?;
        let caller = context::request(ctx).caller;
        let created_by = caller.session().ok().map(|s| s.account_id);
        let (round, _) = recruitment::create_round(state, to_input(input)?, created_by).await?;
        Ok(RecruitmentRoundCreatePayload {
            round: RoundNode(round),
        })
    }

    /// Records that residents received the round's incentive.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn incentive_fulfil(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Who received it.")] input: IncentiveFulfilInput,
    ) -> async_graphql::Result<IncentiveFulfilPayload> {
        let ids = input
            .resident_ids
            .iter()
            .map(|id| id::decode(RESIDENT, id, "input.residentIds"))
            .collect::<Result<Vec<_>, _>>()?;
        let state = context::state(ctx)?;
        let fulfilled_count = incentives::fulfil(&state.db, &ids, state.clock.now()).await?;
        Ok(IncentiveFulfilPayload { fulfilled_count })
    }
}
