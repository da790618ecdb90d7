//! The GraphQL API: one schema, merged from one module per area, in folders named as in
//! `service/` (`accounts` with sessions, `recruitment` with registration, `consultations`
//! with their partial updates and the officers' view of responses).
//!
//! Resolvers adapt: they parse arguments into domain types, check the caller's role
//! through [`guard`], call a use case in `service`, and wrap the result. They never build
//! SQL.

pub mod accounts;
pub mod consultations;
pub mod context;
pub mod error;
pub mod guard;
pub mod id;
pub mod jobs;
pub mod loaders;
pub mod node;
pub mod pagination;
pub mod panels;
pub mod recruitment;
pub mod register;
pub mod reports;
pub mod selection;
pub mod subscriptions;

use async_graphql::{MergedObject, SDLExportOptions, Schema};

use crate::graphql::subscriptions::SubscriptionRoot;

use crate::config::Config;
use crate::state::AppState;

/// Every query field.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    node::NodeQuery,
    accounts::AccountQuery,
    jobs::JobQuery,
    register::RegisterQuery,
    recruitment::RecruitmentQuery,
    recruitment::registration::RegistrationQuery,
    panels::PanelQuery,
    selection::SelectionQuery,
    consultations::ConsultationQuery,
    reports::ReportQuery,
    consultations::responses::ResponseQuery,
);

/// Every mutation field.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    accounts::AccountMutation,
    jobs::JobMutation,
    accounts::sessions::SessionMutation,
    register::RegisterMutation,
    recruitment::RecruitmentMutation,
    recruitment::registration::RegistrationMutation,
    panels::PanelMutation,
    selection::SelectionMutation,
    consultations::ConsultationMutation,
);

/// The schema type.
pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Builds the schema with the configured limits and the shared state. Each request also
/// needs its `RequestContext` and its loaders (`loaders::for_request`).
pub fn build_schema(state: AppState) -> AppSchema {
    let config = state.config.clone();
    builder(&config).data(state).finish()
}

fn builder(
    config: &Config,
) -> async_graphql::SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .limit_depth(config.query_depth_limit)
    .limit_complexity(config.query_complexity_limit)
    .extension(error::RequestErrorCodes)
}

/// The schema in SDL, with types, fields, arguments and enum values sorted, as committed
/// in `schema.graphql`.
pub fn sdl() -> String {
    let schema = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .finish();
    let options = SDLExportOptions::new()
        .sorted_fields()
        .sorted_arguments()
        .sorted_enum_items();
    schema.sdl_with_options(options)
}
