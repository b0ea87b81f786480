//! Users.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::Versioned;
use kommune_platform::paging::Page;

/// A user as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The user's municipality; `None` for suite-wide users.
    pub municipality_id: Option<String>,
    /// Full name.
    pub name: String,
    /// E-mail, lowercased, unique.
    pub email: String,
    /// Roles (see `store::encode_roles`).
    pub roles: String,
    /// Whether the user may sign in.
    pub active: bool,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Created.
    pub created_at: DateTimeUtc,
    /// Last changed.
    pub updated_at: DateTimeUtc,
    /// When the person was anonymised.
    pub anonymized_at: Option<DateTimeUtc>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

fn email_taken(email: &str) -> String {
    format!("a user with e-mail {email} exists")
}

/// Inserts a new user.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    let email = model.email.clone();
    ActiveModel::from(model)
        .insert(txn)
        .await
        .map_err(|e| kommune_platform::db::unique(e, "email", || email_taken(&email)))
}

/// One user.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// A page of users by e-mail, optionally of one municipality.
pub async fn list(
    db: &impl ConnectionTrait,
    municipality_id: Option<&str>,
    email: Option<&str>,
    page: &Page,
) -> Result<(Vec<Model>, kommune_proto::common::v1::PageResponse), Error> {
    let mut query = Entity::find()
        .order_by_asc(Column::Email)
        .limit(page.fetch_limit());
    if let Some(municipality_id) = municipality_id {
        query = query.filter(Column::MunicipalityId.eq(municipality_id));
    }
    if let Some(email) = email {
        query = query.filter(Column::Email.eq(email.to_lowercase()));
    }
    if let Some(after) = &page.after {
        query = query.filter(Column::Email.gt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |u| u.email.clone()))
}

impl Versioned for Model {
    const NAME: &'static str = "user";

    fn taken(&self) -> Option<Error> {
        Some(Error::AlreadyExists {
            field: "email",
            description: email_taken(&self.email),
        })
    }
}

/// How many users exist (to know whether identity must be bootstrapped).
pub async fn count(db: &impl ConnectionTrait) -> Result<u64, Error> {
    Ok(Entity::find().count(db).await?)
}
