//! The consultation queries and mutations: every operation on surveys, invitations and
//! answers, each a few lines over its service.

use super::*;

/// The `Query` fields on consultations: officers' views of them, and what a respondent
/// sees by link, by code or signed in.
#[derive(Default)]
pub struct ConsultationQuery;

#[Object]
impl ConsultationQuery {
    /// Consultations, newest first, a page at a time (OFFICER).
    #[graphql(
        guard = "RoleGuard::OFFICER",
        complexity = "connection_complexity(first, child_complexity)"
    )]
    pub(super) async fn consultations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only those in this status.")] status: Option<StatusValue>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last consultation of the previous page.")] after: Option<
            String,
        >,
    ) -> async_graphql::Result<Connection<String, ConsultationNode>> {
        let page = Page::<ConsultationId>::parse(first, after.as_deref())?;
        let state = context::state(ctx)?;
        let rows = consultations::list(
            state,
            &context::caller(ctx),
            status.map(Into::into),
            page.after,
            page.first,
        )
        .await?;
        Ok(page.connection(rows, |c| c.id, ConsultationNode))
    }

    /// One consultation (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    pub(super) async fn consultation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation's ID.")] id: ID,
    ) -> async_graphql::Result<ConsultationNode> {
        let consultation = id::decode::<ConsultationId>(&id, "id")?;
        let state = context::state(ctx)?;
        Ok(ConsultationNode(
            consultations::find(state, &context::caller(ctx), consultation).await?,
        ))
    }

    /// The consultation a personal link or a postal letter opens, with the answers saved
    /// so far (no login: the token, or the letter's code, is the key). A letter's code is
    /// taken with or without its hyphen, in either case; a typing mistake in it is
    /// `BAD_USER_INPUT` (its check symbol catches one before any look-up); an unknown or
    /// withdrawn token or code is `NOT_FOUND`, and unknown codes are limited per client
    /// address and in all as registration codes are (`RATE_LIMITED`). Opening with a
    /// letter's code counts the invitation as clicked, as following an email's link does.
    pub(super) async fn invitation_by_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The token from the personal link (`cpc_…`), or the code printed on the postal letter (`XXXXX-XXXXX`)."
        )]
        token: String,
    ) -> async_graphql::Result<InvitedView> {
        let state = context::state(ctx)?;
        let request = context::request(ctx);
        let access = Access::holding(token, request.client, "token")?;
        Ok(InvitedView(
            answering::open(state, &request.caller, access).await?,
        ))
    }

    /// An open-link survey by the code in its link or QR code (no login). A draft, or a
    /// code that names nothing, is `NOT_FOUND`.
    pub(super) async fn open_consultation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The code from the open link.")] code: String,
    ) -> async_graphql::Result<PublicConsultation> {
        let state = context::state(ctx)?;
        let (consultation, questions) = answering::open_link(state, &code).await?;
        Ok(PublicConsultation(consultation, questions))
    }

    /// One of the signed-in resident's invitations (or any, for an OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER_OR_RESIDENT")]
    pub(super) async fn invitation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invitation's ID.")] id: ID,
    ) -> async_graphql::Result<InvitedView> {
        let invitation = id::decode::<InvitationId>(&id, "id")?;
        let state = context::state(ctx)?;
        Ok(InvitedView(
            answering::open(state, &context::caller(ctx), Access::Invitation(invitation)).await?,
        ))
    }

    /// The signed-in resident's invitations, newest first, a page at a time: pending and
    /// completed.
    #[graphql(
        guard = "RoleGuard::ANY_ACCOUNT",
        complexity = "connection_complexity(first, child_complexity)"
    )]
    pub(super) async fn my_invitations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last invitation of the previous page.")] after: Option<
            String,
        >,
    ) -> async_graphql::Result<Connection<String, MyInvitation>> {
        let page = Page::<InvitationId>::parse(first, after.as_deref())?;
        let state = context::state(ctx)?;
        let rows = answering::mine(state, &context::caller(ctx), page.after, page.first).await?;
        Ok(page.connection(rows, |(i, _)| i.id, |(i, c)| MyInvitation(i, c)))
    }
}

/// The `Mutation` fields on consultations: drafting and the lifecycle, invitations and
/// reminders, and answers.
#[derive(Default)]
pub struct ConsultationMutation;

#[Object]
impl ConsultationMutation {
    /// Drafts a consultation (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    pub(super) async fn consultation_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation.")] input: ConsultationCreateInput,
    ) -> async_graphql::Result<ConsultationPayload> {
        let state = context::state(ctx)?;
        let consultation =
            consultations::create(state, &context::caller(ctx), input.request()?).await?;
        Ok(ConsultationPayload {
            consultation: ConsultationNode(consultation),
        })
    }

    /// Changes a draft's wording and settings (OFFICER): only the fields given change,
    /// an omitted field keeps its value, and `null` clears one that may be empty. The
    /// consultation as changed is checked whole (`BAD_USER_INPUT` naming the field).
    /// `CONFLICT` once it is open.
    #[graphql(guard = "RoleGuard::OFFICER")]
    pub(super) async fn consultation_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The draft and its new settings.")] input: ConsultationUpdateInput,
    ) -> async_graphql::Result<ConsultationPayload> {
        let id = id::decode::<ConsultationId>(&input.consultation_id, "input.consultationId")?;
        let state = context::state(ctx)?;
        let consultation = consultations::update(
            state,
            &context::caller(ctx),
            id,
            input.consultation.changes()?,
        )
        .await?;
        Ok(ConsultationPayload {
            consultation: ConsultationNode(consultation),
        })
    }

    /// Sets a draft's questions, in order (OFFICER). `CONFLICT` once it is open.
    #[graphql(guard = "RoleGuard::OFFICER")]
    pub(super) async fn consultation_questions_set(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The draft and its questions.")] input: ConsultationQuestionsSetInput,
    ) -> async_graphql::Result<ConsultationQuestionsSetPayload> {
        let id = id::decode::<ConsultationId>(&input.consultation_id, "input.consultationId")?;
        let requests = input
            .questions
            .into_iter()
            .enumerate()
            .map(|(i, q)| q.request(i))
            .collect::<async_graphql::Result<Vec<_>>>()?;
        let state = context::state(ctx)?;
        let caller = context::caller(ctx);
        let questions = consultations::set_questions(state, &caller, id, requests).await?;
        Ok(ConsultationQuestionsSetPayload {
            consultation: ConsultationNode(consultations::find(state, &caller, id).await?),
            questions: questions.into_iter().map(QuestionView).collect(),
        })
    }

    /// Opens a draft: its questions freeze and answers are accepted (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    pub(super) async fn consultation_open(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation.")] input: ConsultationRef,
    ) -> async_graphql::Result<ConsultationPayload> {
        transition(ctx, input, Step::Open).await
    }

    /// Closes an open consultation: no new answers (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    pub(super) async fn consultation_close(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation.")] input: ConsultationRef,
    ) -> async_graphql::Result<ConsultationPayload> {
        transition(ctx, input, Step::Close).await
    }

    /// Reopens a closed consultation (OFFICER); a close time already past is removed.
    #[graphql(guard = "RoleGuard::OFFICER")]
    pub(super) async fn consultation_reopen(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation.")] input: ConsultationRef,
    ) -> async_graphql::Result<ConsultationPayload> {
        transition(ctx, input, Step::Reopen).await
    }

    /// Copies a consultation as a new draft in the same series, keeping its question keys
    /// so next year's results can be compared with this year's (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    pub(super) async fn consultation_duplicate(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation to copy.")] input: ConsultationDuplicateInput,
    ) -> async_graphql::Result<ConsultationPayload> {
        let id = id::decode::<ConsultationId>(&input.consultation_id, "input.consultationId")?;
        let state = context::state(ctx)?;
        let copy = consultations::duplicate(state, &context::caller(ctx), id, input.title).await?;
        Ok(ConsultationPayload {
            consultation: ConsultationNode(copy),
        })
    }

    /// Invites every current member of the consultation's panel not yet invited, as a
    /// job: an invitation with a personal link each, its email or text message queued
    /// (OFFICER). Members without email or phone, or preferring post, get a letter: print
    /// them with `consultationLettersExport`. A consultation with a `sampleSize` invites
    /// its sample instead, drawn by this job the first time (and nobody afterwards).
    #[graphql(guard = "RoleGuard::OFFICER")]
    pub(super) async fn consultation_invite(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation.")] input: ConsultationInviteInput,
    ) -> async_graphql::Result<JobPayload> {
        let id = id::decode::<ConsultationId>(&input.consultation_id, "input.consultationId")?;
        let state = context::state(ctx)?;
        let prefer = input.prefer.map(|p| {
            crate::domain::consultations::consultation::Channel::from(p)
                .as_str()
                .to_owned()
        });
        let job =
            invitations::start_invite(state, &context::caller(ctx), id, InviteRequest { prefer })
                .await?;
        Ok(JobPayload { job: JobNode(job) })
    }

    /// Prints the post invitations not yet printed, as a job: a mail-merge CSV with each
    /// member's address and personal short code (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    pub(super) async fn consultation_letters_export(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation.")] input: ConsultationLettersExportInput,
    ) -> async_graphql::Result<JobPayload> {
        let id = id::decode::<ConsultationId>(&input.consultation_id, "input.consultationId")?;
        let state = context::state(ctx)?;
        let job =
            invitations::start_letters(state, &context::caller(ctx), id, input.reprint).await?;
        Ok(JobPayload { job: JobNode(job) })
    }

    /// Queues reminders, as a job, to the members invited by email or text message who
    /// have not completed: at most the consultation's `maxReminders` each, none sooner
    /// than `reminderGapHours` after their last message, none to those who bounced or
    /// opted out (OFFICER). Reminder emails carry a one-click `List-Unsubscribe`.
    #[graphql(guard = "RoleGuard::OFFICER")]
    pub(super) async fn consultation_remind(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation.")] input: ConsultationRemindInput,
    ) -> async_graphql::Result<JobPayload> {
        let id = id::decode::<ConsultationId>(&input.consultation_id, "input.consultationId")?;
        let state = context::state(ctx)?;
        let job = invitations::start_remind(
            state,
            &context::caller(ctx),
            id,
            input.channel.map(Into::into),
        )
        .await?;
        Ok(JobPayload { job: JobNode(job) })
    }

    /// Withdraws an invitation (OFFICER): its link and printed code stop working
    /// (`NOT_FOUND`), it drops out of the counts and reminders, and its messages not yet
    /// sent are not sent. Answers already submitted stay.
    #[graphql(guard = "RoleGuard::OFFICER")]
    pub(super) async fn invitation_revoke(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invitation.")] input: InvitationRevokeInput,
    ) -> async_graphql::Result<InvitationNode> {
        let id = id::decode::<InvitationId>(&input.invitation_id, "input.invitationId")?;
        let state = context::state(ctx)?;
        Ok(InvitationNode(
            invitations::revoke(state, &context::caller(ctx), id).await?,
        ))
    }

    /// Sets whether the signed-in resident is sent reminders (invitations still come). A
    /// staff account has no resident record: `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::ANY_ACCOUNT")]
    pub(super) async fn reminder_preference_set(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The setting.")] input: ReminderPreferenceSetInput,
    ) -> async_graphql::Result<ReminderPreferenceSetPayload> {
        let state = context::state(ctx)?;
        let opt_out =
            invitations::set_reminders_opt_out(state, &context::caller(ctx), input.opt_out).await?;
        Ok(ReminderPreferenceSetPayload { opt_out })
    }

    /// Saves answers without submitting, to resume later on any device (the personal
    /// link's token or the postal letter's code, or signed in with the invitation's ID).
    /// The first save marks the invitation started. Each answer is checked against its
    /// question; answers to questions the other answers hide are kept while drafting.
    pub(super) async fn answers_save(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Who is answering and the answers.")] input: AnswersSaveInput,
    ) -> async_graphql::Result<InvitedView> {
        let access = access(ctx, input.token, input.invitation_id)?;
        let answers = answers_in(input.answers)?;
        let state = context::state(ctx)?;
        Ok(InvitedView(
            answering::save(state, &context::caller(ctx), access, answers).await?,
        ))
    }

    /// Submits the answers (saved ones with these over them), checked as a whole: types
    /// and required questions; answers to questions the other answers hide are dropped,
    /// never stored. Exactly once per invitation: a repeat (a double tap, a retry)
    /// changes nothing and says `duplicate`.
    pub(super) async fn response_submit(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Who is answering and the answers.")] input: ResponseSubmitInput,
    ) -> async_graphql::Result<ResponseSubmitPayload> {
        let access = access(ctx, input.token, input.invitation_id)?;
        let channel: crate::domain::consultations::consultation::AnswerChannel =
            input.channel.into();
        if channel.is_offline() {
            return Err(AppError::bad_input(
                "input.channel",
                "Paper and phone answers are entered by an officer with responseEnter.",
            )
            .into());
        }
        let answers = complete_answers(input.answers)?;
        let state = context::state(ctx)?;
        Ok(
            answering::submit(state, &context::caller(ctx), access, answers, channel)
                .await?
                .into(),
        )
    }

    /// Submits a response to an open-link (QR code) survey: anyone may, a limited number
    /// per client address per hour. Its "about you" answers are kept as the response's
    /// demographics. Send a `submissionKey` (e.g. a UUID made when the form opened) so a
    /// retry is recognised and not counted twice.
    pub(super) async fn open_response_submit(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The survey's code and the answers.")] input: OpenResponseSubmitInput,
    ) -> async_graphql::Result<OpenResponseSubmitPayload> {
        let answers = complete_answers(input.answers)?;
        let state = context::state(ctx)?;
        let submitted = answering::submit_open(
            state,
            &context::request(ctx).client,
            &input.code,
            answers,
            input.submission_key,
        )
        .await?;
        Ok(OpenResponseSubmitPayload {
            duplicate: submitted.duplicate,
        })
    }

    /// Enters answers received on paper or by phone against the member's invitation or
    /// its printed code (OFFICER); they count in every figure like online answers.
    #[graphql(guard = "RoleGuard::OFFICER")]
    pub(super) async fn response_enter(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whose answers, how they came, and the answers.")]
        input: ResponseEnterInput,
    ) -> async_graphql::Result<ResponseSubmitPayload> {
        let channel: crate::domain::consultations::consultation::AnswerChannel =
            input.channel.into();
        if !channel.is_offline() {
            return Err(AppError::bad_input(
                "input.channel",
                "Officers enter answers received on PAPER or by PHONE.",
            )
            .into());
        }
        let access = match (input.invitation_id, input.code) {
            (Some(invitation), None) => Access::Invitation(id::decode::<InvitationId>(
                &invitation,
                "input.invitationId",
            )?),
            (None, Some(code)) => Access::Code(code),
            _ => {
                return Err(AppError::bad_input(
                    "input.invitationId",
                    "Give either the invitation's ID or the printed code.",
                )
                .into());
            }
        };
        let answers = complete_answers(input.answers)?;
        let state = context::state(ctx)?;
        Ok(
            answering::submit(state, &context::caller(ctx), access, answers, channel)
                .await?
                .into(),
        )
    }
}

pub(super) async fn transition(
    ctx: &Context<'_>,
    input: ConsultationRef,
    step: Step,
) -> async_graphql::Result<ConsultationPayload> {
    let id = id::decode::<ConsultationId>(&input.consultation_id, "input.consultationId")?;
    let state = context::state(ctx)?;
    let consultation = consultations::transition(state, &context::caller(ctx), id, step).await?;
    Ok(ConsultationPayload {
        consultation: ConsultationNode(consultation),
    })
}
