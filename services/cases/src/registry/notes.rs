//! Comments on a case and its attachments: who may write and read which.

use super::*;

impl Registry {
    /// Adds a comment; municipal users write public comments only. A supporter's first public comment
    /// is the first response.
    pub async fn add_comment(
        &self,
        caller: &Caller,
        id: &str,
        text: String,
        visibility: pb::CommentVisibility,
    ) -> Result<comments::Model, Error> {
        let supporter = domain::is_supporter(caller);
        if visibility == pb::CommentVisibility::Internal && !supporter {
            return Err(Error::PermissionDenied(
                Reason::RoleRequired,
                "internal comments are the supplier's".into(),
            ));
        }
        let txn = kommune_platform::db::begin(&self.db).await?;
        let case = self.case(&txn, caller, id, None).await?;
        let comment = self
            .comment_in(&txn, caller, case, text, visibility)
            .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(comment)
    }

    /// Writes a comment on `case` in `txn`: a supporter's first public one is the first response; a
    /// public one is announced, an internal one only audited.
    pub(super) async fn comment_in(
        &self,
        txn: &Txn,
        caller: &Caller,
        mut case: cases::Model,
        text: String,
        visibility: pb::CommentVisibility,
    ) -> Result<comments::Model, Error> {
        let now = self.clock.now();
        let supporter = domain::is_supporter(caller);
        let comment = comments::insert(
            txn,
            comments::Model {
                id: Uuid::now_v7().to_string(),
                case_id: case.id.clone(),
                author: caller.subject.clone(),
                text,
                visibility: visibility.into(),
                created_at: now,
            },
        )
        .await?;
        if supporter
            && visibility == pb::CommentVisibility::Public
            && case.first_response_at.is_none()
        {
            case.first_response_at = Some(now);
        }
        let payload = json!({"comment_id": comment.id, "visibility": comment.visibility});
        // An internal comment is the supplier's note: audited, but no event tells the municipality.
        if visibility == pb::CommentVisibility::Internal {
            self.saved(txn, caller, case, "comment", payload).await?;
        } else {
            self.changed(txn, caller, case, "comment", payload).await?;
        }
        Ok(comment)
    }

    /// A page of a case's comments; municipal users see public ones only.
    pub async fn list_comments(
        &self,
        caller: &Caller,
        id: &str,
        page: &Page,
    ) -> Result<(Vec<comments::Model>, PageResponse), Error> {
        self.get_case(caller, id).await?;
        comments::list(&self.db, id, !domain::is_supporter(caller), page).await
    }

    /// Attaches a file to a case the caller may see.
    pub async fn add_attachment(
        &self,
        caller: &Caller,
        id: &str,
        file_name: String,
        content_type: String,
        content: Vec<u8>,
    ) -> Result<attachments::Model, Error> {
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let case = self.case(&txn, caller, id, None).await?;
        let attachment = attachments::insert(
            &txn,
            attachments::Model {
                id: Uuid::now_v7().to_string(),
                case_id: case.id.clone(),
                file_name,
                content_type,
                size_bytes: content.len() as i64,
                content,
                uploaded_by: caller.subject.clone(),
                created_at: now,
            },
        )
        .await?;
        let payload = json!({
            "attachment_id": attachment.id,
            "file_name": attachment.file_name,
            "content_type": attachment.content_type,
            "size_bytes": attachment.size_bytes,
        });
        self.changed(&txn, caller, case, "attachment", payload)
            .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(attachment)
    }

    /// A case's attachments, without content.
    pub async fn list_attachments(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<Vec<attachments::Model>, Error> {
        self.get_case(caller, id).await?;
        attachments::of_case(&self.db, id).await
    }

    /// One attachment with its content.
    pub async fn get_attachment(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<attachments::Model, Error> {
        let attachment = attachments::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("attachment", id))?;
        self.get_case(caller, &attachment.case_id).await?;
        Ok(attachment)
    }
}
