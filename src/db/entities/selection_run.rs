use crate::domain::ids::{AccountId, FileId, JobId, PanelId, SelectionRunId};
use crate::domain::selection::Method;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "selection_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: SelectionRunId,
    pub panel_id: PanelId,
    pub job_id: Option<JobId>,
    pub top_up: bool,
    pub method: Method,
    pub seed: String,
    pub k: i32,
    pub tickets: i32,
    pub greedy_runs: i32,
    pub time_limit_seconds: i32,
    #[sea_orm(column_type = "Text")]
    pub quotas: String,
    pub as_of: DateTimeUtc,
    pub pool_size: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub summary: Option<String>,
    pub lottery_file_id: Option<FileId>,
    pub lottery_sha256: Option<String>,
    pub distribution_file_id: Option<FileId>,
    pub drawn_number: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub draw_source: Option<String>,
    pub drawn_by: Option<AccountId>,
    pub drawn_at: Option<DateTimeUtc>,
    pub created_by: Option<AccountId>,
    pub created_at: DateTimeUtc,
    pub seats_fingerprint: Option<String>,
    pub seats_sitting: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
