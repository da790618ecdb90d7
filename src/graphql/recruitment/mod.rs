//! Recruitment rounds in the API: drawing, planning, status and incentives.

pub mod registration;

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::ids::{ResidentId, RoundId};
use crate::domain::recruitment::composition::CompositionRow;
use crate::domain::recruitment::round::{self, Round};
use crate::error::AppError;
use crate::graphql::accounts::AccountNode;
use crate::graphql::context;
use crate::graphql::guard::RoleGuard;
use crate::graphql::id;
use crate::graphql::id::download_path;
use crate::graphql::jobs::node::{JobNode, JobPayload};
use crate::graphql::loaders::{self, CompositionOf, StatusOf};
use crate::graphql::pagination::{Page, connection_complexity};
use crate::service::recruitment::incentives;
use crate::service::recruitment::round_status::{CompositionDimension, Funnel};
use crate::service::recruitment::{self, RoundRequest};

/// An oversampling weight for one deprivation decile.
#[derive(InputObject)]
pub struct DecileWeightInput {
    /// Index of Multiple Deprivation decile, 1 (most deprived) to 10.
    pub decile: i32,
    /// Relative chance of an address in this decile being drawn (1 = proportional).
    pub weight: f64,
}

/// How a round's letters are split between wards.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
#[graphql(
    name = "WardShares",
    remote = "crate::domain::recruitment::sampling::WardShares"
)]
pub enum WardSharesValue {
    /// In proportion to each ward's sum of oversampling weights: weighting a decile also
    /// moves letters towards the wards where that decile lies. With no weights, the same
    /// as `BY_ADDRESSES`.
    #[default]
    ByWeight,
    /// In proportion to each ward's number of eligible addresses, whatever the weights;
    /// the weights only choose between addresses within a ward.
    ByAddresses,
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
    /// How the letters are split between wards (see `WardShares`).
    #[graphql(default)]
    pub ward_shares: WardSharesValue,
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

impl From<RecruitmentRoundCreateInput> for RoundRequest {
    fn from(input: RecruitmentRoundCreateInput) -> Self {
        Self {
            name: input.name,
            letters: i64::from(input.letters),
            seed: input.seed,
            decile_weights: input
                .decile_weights
                .into_iter()
                .map(|w| (i64::from(w.decile), w.weight))
                .collect(),
            ward_shares: input.ward_shares.into(),
            exclude_invited_within_months: input.exclude_invited_within_months.map(i64::from),
            exclude_member_households: input.exclude_member_households,
            code_valid_days: i64::from(input.code_valid_days),
            min_age: i64::from(input.min_age),
            one_per_household: input.one_per_household,
            incentive: input.incentive.map(|i| round::Incentive {
                description: i.description,
                amount_pence: i.amount_pence,
            }),
        }
    }
}

/// Letters, codes and registrations for one group of a round. For SCRUTINY, counts below
/// the disclosure threshold, and counts beside them that would give them away, are
/// `null` (see the README's "Disclosure control").
#[derive(SimpleObject)]
pub struct RoundFunnel {
    /// Ward code, decile (`1`…`10`, `unknown`) or `all`.
    pub group: String,
    /// Letters drawn.
    pub drawn: Option<u64>,
    /// Letters exported for printing.
    pub exported: Option<u64>,
    /// Codes redeemed.
    pub redeemed: Option<u64>,
    /// Registrants in the pool.
    pub registrations: Option<u64>,
    /// Registrations per letter drawn, 0 to 1 (`null` when either is hidden).
    pub registration_rate: Option<f64>,
}

impl From<Funnel> for RoundFunnel {
    fn from(f: Funnel) -> Self {
        let shown = |value: u64, hidden: bool| (!hidden).then_some(value);
        Self {
            registration_rate: (!f.hidden[0] && !f.hidden[3]).then(|| f.registration_rate()),
            drawn: shown(f.drawn, f.hidden[0]),
            exported: shown(f.exported, f.hidden[1]),
            redeemed: shown(f.redeemed, f.hidden[2]),
            registrations: shown(f.registrations, f.hidden[3]),
            group: f.group,
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

/// A category of the pool against the population. For SCRUTINY, a count below the
/// disclosure threshold (or one that would give such a count away) is `null`, with its
/// share and ratio.
#[derive(SimpleObject)]
pub struct CompositionCategory {
    /// Census category label.
    pub category: String,
    /// Registrants in it.
    pub count: Option<u64>,
    /// Their share of the pool.
    pub share: Option<f64>,
    /// The population share (adults at or above the round's minimum age, for age bands).
    pub population_share: Option<f64>,
    /// Pool share ÷ population share: 1 is proportional, below 1 under-represented.
    pub representation_ratio: Option<f64>,
}

impl CompositionCategory {
    fn from_row(r: CompositionRow, hidden: bool) -> Self {
        Self {
            category: r.category,
            count: (!hidden).then_some(r.count),
            share: (!hidden).then_some(r.share),
            population_share: r.population_share,
            representation_ratio: r.ratio.filter(|_| !hidden),
        }
    }
}

/// One dimension of the pool's make-up.
#[derive(SimpleObject)]
pub struct CompositionDimensionView {
    /// `age_band`, `sex`, `ethnic_group` or `disability`.
    pub dimension: String,
    /// One entry per category: the benchmark's categories in its order, then any the
    /// pool has that the benchmark lacks.
    pub categories: Vec<CompositionCategory>,
    /// Benchmark categories of this dimension that match no profile value (a total, a
    /// broad group, a label outside the vocabulary), as written: left out of the
    /// population shares. Empty when the benchmarks use the vocabulary in the README.
    pub unmatched_categories: Vec<String>,
}

/// A registrant owed the round's incentive.
#[derive(SimpleObject)]
pub struct IncentiveClaim {
    /// The `Resident` ID to pass to `incentiveFulfil` once it is given.
    pub resident_id: ID,
    /// The name they registered with.
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

/// One decile's oversampling weight.
#[derive(SimpleObject)]
pub struct DecileWeight {
    /// Index of Multiple Deprivation decile, 1 (most deprived) to 10.
    pub decile: i32,
    /// Relative chance of an address in this decile being drawn (1 = proportional).
    pub weight: f64,
}

/// The parameters a round was drawn with (with its seed and the register snapshot, all
/// that is needed to re-run the draw).
#[derive(SimpleObject)]
pub struct LotteryParameters {
    /// Letters drawn for.
    pub letters: u64,
    /// Oversampling weights (deciles not listed weigh 1).
    pub decile_weights: Vec<DecileWeight>,
    /// How the letters were split between wards.
    pub ward_shares: WardSharesValue,
    /// Addresses sent a letter within this many months were left out.
    pub exclude_invited_within_months: Option<u32>,
    /// Households with a member were left out.
    pub exclude_member_households: bool,
    /// The moment the register snapshot and the exclusions refer to.
    pub as_of: DateTime<Utc>,
}

impl From<&round::LotteryParameters> for LotteryParameters {
    fn from(p: &round::LotteryParameters) -> Self {
        Self {
            letters: p.letters,
            decile_weights: p
                .decile_weights
                .iter()
                .map(|(decile, weight)| DecileWeight {
                    decile: i32::from(*decile),
                    weight: *weight,
                })
                .collect(),
            ward_shares: p.ward_shares.into(),
            exclude_invited_within_months: p.exclude_invited_within_months,
            exclude_member_households: p.exclude_member_households,
            as_of: p.as_of,
        }
    }
}

/// A recruitment round: one address lottery and its letters.
pub struct RoundNode(pub Round);

/// A recruitment round: one address lottery and its letters.
#[Object(name = "RecruitmentRound")]
impl RoundNode {
    /// The round's global ID, for `recruitmentRound(id:)` and `node(id:)`.
    pub async fn id(&self) -> ID {
        id::encode(self.0.id)
    }
    /// The name officers gave it, e.g. "Spring 2027 recruitment".
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The draw's seed (decimal, below 2^64). With the seed, the parameters and the
    /// register snapshot anyone can re-run the draw.
    async fn seed(&self) -> String {
        self.0.seed.to_string()
    }
    /// The named, versioned draw algorithm.
    async fn algorithm(&self) -> &str {
        &self.0.algorithm
    }
    /// The lottery's parameters.
    async fn parameters(&self) -> LotteryParameters {
        (&self.0.parameters).into()
    }
    /// SHA-256 of the eligible register the draw used.
    async fn register_fingerprint(&self) -> &str {
        &self.0.register_fingerprint
    }
    /// Addresses eligible for the draw.
    async fn eligible_count(&self) -> u64 {
        self.0.eligible_count
    }
    /// Letters drawn (for SCRUTINY, `null` when the round's status hides its total).
    async fn drawn_count(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<u64>> {
        if context::caller(ctx).role() == Some(crate::domain::accounts::role::Role::Scrutiny) {
            let status = loaders::get(ctx)?
                .load_one(StatusOf(self.0.id))
                .await?
                .unwrap_or_default();
            if status.total.hidden[0] {
                return Ok(None);
            }
        }
        Ok(Some(self.0.drawn_count))
    }
    /// When the round was drawn.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Who asked for the draw.
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<AccountNode>> {
        let Some(account) = self.0.created_by else {
            return Ok(None);
        };
        Ok(loaders::get(ctx)?.load_one(account).await?.map(AccountNode))
    }
    /// When its codes stop working.
    async fn code_expires_at(&self) -> DateTime<Utc> {
        self.0.code_expires_at
    }
    /// Youngest age that may register.
    async fn min_age(&self) -> u8 {
        self.0.min_age
    }
    /// Whether only one person per household may register.
    async fn one_per_household(&self) -> bool {
        self.0.one_per_household
    }
    /// The incentive for joining, if any.
    async fn incentive(&self) -> Option<Incentive> {
        self.0.incentive.clone().map(|i| Incentive {
            description: i.description,
            amount_pence: i.amount_pence,
        })
    }
    /// Where officers download the round's draw record: the eligible frame as it was at
    /// the draw (address keys, wards and weights; no names), the seed, the parameters,
    /// the algorithm and the keys drawn, as one JSON file anyone can re-run with
    /// `civic-panel lottery verify --frame FILE`. Null for a round drawn before records
    /// were kept.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn draw_record_download_url(&self) -> Option<String> {
        self.0.draw_record.map(download_path)
    }
    /// Letters drawn, exported and redeemed, and registrations, by ward and decile.
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<RoundStatusView> {
        let status = loaders::get(ctx)?
            .load_one(StatusOf(self.0.id))
            .await?
            .unwrap_or_default();
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
        let dimensions: Vec<CompositionDimension> = loaders::get(ctx)?
            .load_one(CompositionOf(self.0.id, area_code.trim().to_owned()))
            .await?
            .ok_or(AppError::NotFound {
                what: "benchmark area",
            })?;
        Ok(dimensions
            .into_iter()
            .map(|d| CompositionDimensionView {
                dimension: d.dimension.as_str().to_owned(),
                categories: d
                    .rows
                    .into_iter()
                    .zip(d.hidden)
                    .map(|(row, hidden)| CompositionCategory::from_row(row, hidden))
                    .collect(),
                unmatched_categories: d.unmatched,
            })
            .collect())
    }
    /// Registrants owed the incentive, in registration order, and whether it was given
    /// (personal data: OFFICER).
    #[graphql(
        guard = "RoleGuard::OFFICER",
        complexity = "connection_complexity(first, child_complexity)"
    )]
    async fn incentive_claims(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last claim of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<String, IncentiveClaim>> {
        let page = Page::<ResidentId>::parse(first, after.as_deref())?;
        // A list's first pages come in one batch; a later page is read alone.
        let claims = match page.after {
            None => loaders::get(ctx)?
                .load_one(loaders::ClaimsPage(self.0.id, page.first))
                .await?
                .unwrap_or_default(),
            Some(after) => {
                let state = context::state(ctx)?;
                let caller = context::caller(ctx);
                incentives::claims_page(state, &caller, self.0.id, Some(after), page.first).await?
            }
        };
        Ok(page.connection(
            claims,
            |c| c.resident_id,
            |c| IncentiveClaim {
                resident_id: id::encode(c.resident_id),
                full_name: c.full_name,
                email: c.email,
                owed_since: c.owed_since,
                fulfilled_at: c.fulfilled_at,
            },
        ))
    }
}

/// Letters needed in one ward.
#[derive(SimpleObject)]
pub struct WardPlan {
    /// The ward's GSS code, as in the register, e.g. `E05004418`.
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

/// The `Query` fields on recruitment rounds and on planning one.
#[derive(Default)]
pub struct RecruitmentQuery;

#[Object]
impl RecruitmentQuery {
    /// One round (OFFICER, SCRUTINY: parameters and aggregates only).
    #[graphql(guard = "RoleGuard::OFFICER_OR_SCRUTINY")]
    async fn recruitment_round(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round's ID.")] id: ID,
    ) -> async_graphql::Result<RoundNode> {
        let round_id = id::decode::<RoundId>(&id, "id")?;
        let state = context::state(ctx)?;
        Ok(RoundNode(
            recruitment::round(state, &context::caller(ctx), round_id).await?,
        ))
    }

    /// Rounds, newest first (OFFICER, SCRUTINY).
    #[graphql(
        guard = "RoleGuard::OFFICER_OR_SCRUTINY",
        complexity = "connection_complexity(first, child_complexity)"
    )]
    async fn recruitment_rounds(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last round of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<String, RoundNode>> {
        let page = Page::<RoundId>::parse(first, after.as_deref())?;
        let state = context::state(ctx)?;
        let rounds =
            recruitment::list_rounds(state, &context::caller(ctx), page.after, page.first).await?;
        Ok(page.connection(rounds, |round| round.id, RoundNode))
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
        let state = context::state(ctx)?;
        let (letters_needed, by_ward) = recruitment::plan(
            state,
            &context::caller(ctx),
            i64::from(target_registrations),
            expected_rate,
        )
        .await?;
        Ok(RecruitmentPlan {
            target_registrations: u64::try_from(target_registrations).unwrap_or(0),
            expected_rate,
            letters_needed,
            by_ward: by_ward
                .into_iter()
                .map(|(ward_code, letters)| WardPlan { ward_code, letters })
                .collect(),
        })
    }
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

/// A round's letters to bundle for the printer.
#[derive(InputObject)]
pub struct LetterBundleCreateInput {
    /// The ID of the round whose letters are bundled.
    pub round_id: ID,
    /// Replace the codes of every unredeemed letter (the old ones stop working), for a
    /// lost print file. Without it, only letters not yet exported are bundled.
    #[graphql(default = false)]
    pub reissue: bool,
}

/// The `Mutation` fields that draw a round, bundle its letters for the printer and record
/// incentives given.
#[derive(Default)]
pub struct RecruitmentMutation;

#[Object]
impl RecruitmentMutation {
    /// Creates a recruitment round and draws its addresses: stratified by ward with
    /// proportional allocation (largest remainder), optional oversampling by deprivation
    /// decile, and exclusions. The request is checked at once; the draw is a job, whose
    /// result is the round. Codes are minted when the letters are exported.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn recruitment_round_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round and its lottery parameters.")]
        input: RecruitmentRoundCreateInput,
    ) -> async_graphql::Result<JobPayload> {
        let state = context::state(ctx)?;
        let job = recruitment::request_draw(state, &context::caller(ctx), input.into()).await?;
        Ok(JobPayload { job: JobNode(job) })
    }

    /// Bundles a round's letters for the printer: mints a code for each letter not yet
    /// exported (at most 20,000 per bundle; ask again for the next ones) and builds
    /// `letters.csv` with a QR code per letter. A job, whose result is the bundle to
    /// download; the codes are stored only once the bundle is complete.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn letter_bundle_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round, and whether to reissue codes.")]
        input: LetterBundleCreateInput,
    ) -> async_graphql::Result<JobPayload> {
        let round_id = id::decode::<RoundId>(&input.round_id, "input.roundId")?;
        let state = context::state(ctx)?;
        let job = crate::service::recruitment::letters::request_export(
            state,
            &context::caller(ctx),
            round_id,
            input.reissue,
        )
        .await?;
        Ok(JobPayload { job: JobNode(job) })
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
            .map(|id| id::decode::<ResidentId>(id, "input.residentIds"))
            .collect::<Result<Vec<_>, _>>()?;
        let state = context::state(ctx)?;
        let fulfilled_count = incentives::fulfil(state, &context::caller(ctx), &ids).await?;
        Ok(IncentiveFulfilPayload { fulfilled_count })
    }
}
