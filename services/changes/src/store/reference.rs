//! Themes, subthemes and statuses.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder};

use kommune_platform::Error;

/// Themes.
pub mod themes {
    use sea_orm::entity::prelude::*;

    /// A theme as stored.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "themes")]
    pub struct Model {
        /// UUID.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Unique name.
        pub name: String,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Subthemes.
pub mod subthemes {
    use sea_orm::entity::prelude::*;

    /// A subtheme as stored.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "subthemes")]
    pub struct Model {
        /// UUID.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Its theme.
        pub theme_id: String,
        /// Name, unique within the theme.
        pub name: String,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Statuses.
pub mod statuses {
    use sea_orm::entity::prelude::*;

    /// A status as stored.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "statuses")]
    pub struct Model {
        /// Code.
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: i32,
        /// Name.
        pub name: String,
        /// Allowed next codes as a JSON list.
        pub next_codes: String,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl Model {
        /// The allowed next codes.
        pub fn next(&self) -> Vec<i32> {
            serde_json::from_str(&self.next_codes).unwrap_or_default()
        }

        /// As published: `10 - New`.
        pub fn label(&self) -> String {
            format!("{} - {}", self.code, self.name)
        }
    }
}

/// Inserts a theme.
pub async fn insert_theme(
    txn: &impl ConnectionTrait,
    model: themes::Model,
) -> Result<themes::Model, Error> {
    let name = model.name.clone();
    themes::ActiveModel::from(model)
        .insert(txn)
        .await
        .map_err(|e| {
            kommune_platform::db::unique(e, "name", || format!("a theme named {name} exists"))
        })
}

/// Renames a theme; a name in use is ALREADY_EXISTS.
pub async fn rename_theme(
    txn: &impl ConnectionTrait,
    mut theme: themes::Model,
    name: String,
) -> Result<themes::Model, Error> {
    theme.name = name;
    let taken = || format!("a theme named {} exists", theme.name);
    themes::ActiveModel::from(theme.clone())
        .reset_all()
        .update(txn)
        .await
        .map_err(|e| kommune_platform::db::unique(e, "name", taken))?;
    Ok(theme)
}

/// Every theme by name.
pub async fn all_themes(db: &impl ConnectionTrait) -> Result<Vec<themes::Model>, Error> {
    Ok(themes::Entity::find()
        .order_by_asc(themes::Column::Name)
        .all(db)
        .await?)
}

/// One theme.
pub async fn theme(db: &impl ConnectionTrait, id: &str) -> Result<Option<themes::Model>, Error> {
    Ok(themes::Entity::find_by_id(id).one(db).await?)
}

/// Inserts a subtheme.
pub async fn insert_subtheme(
    txn: &impl ConnectionTrait,
    model: subthemes::Model,
) -> Result<subthemes::Model, Error> {
    let name = model.name.clone();
    subthemes::ActiveModel::from(model)
        .insert(txn)
        .await
        .map_err(|e| {
            kommune_platform::db::unique(e, "name", || {
                format!("the theme has a subtheme named {name}")
            })
        })
}

/// Renames a subtheme; a name in use within its theme is ALREADY_EXISTS.
pub async fn rename_subtheme(
    txn: &impl ConnectionTrait,
    mut subtheme: subthemes::Model,
    name: String,
) -> Result<subthemes::Model, Error> {
    subtheme.name = name;
    let taken = || format!("the theme has a subtheme named {}", subtheme.name);
    subthemes::ActiveModel::from(subtheme.clone())
        .reset_all()
        .update(txn)
        .await
        .map_err(|e| kommune_platform::db::unique(e, "name", taken))?;
    Ok(subtheme)
}

/// Every subtheme by theme and name.
pub async fn all_subthemes(db: &impl ConnectionTrait) -> Result<Vec<subthemes::Model>, Error> {
    Ok(subthemes::Entity::find()
        .order_by_asc(subthemes::Column::ThemeId)
        .order_by_asc(subthemes::Column::Name)
        .all(db)
        .await?)
}

/// One subtheme.
pub async fn subtheme(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<subthemes::Model>, Error> {
    Ok(subthemes::Entity::find_by_id(id).one(db).await?)
}

/// Every status by code.
pub async fn all_statuses(db: &impl ConnectionTrait) -> Result<Vec<statuses::Model>, Error> {
    Ok(statuses::Entity::find()
        .order_by_asc(statuses::Column::Code)
        .all(db)
        .await?)
}

/// One status.
pub async fn status(
    db: &impl ConnectionTrait,
    code: i32,
) -> Result<Option<statuses::Model>, Error> {
    Ok(statuses::Entity::find_by_id(code).one(db).await?)
}

/// Creates or replaces a status.
pub async fn put_status(
    txn: &impl ConnectionTrait,
    model: statuses::Model,
) -> Result<statuses::Model, Error> {
    let exists = statuses::Entity::find_by_id(model.code)
        .one(txn)
        .await?
        .is_some();
    let active = statuses::ActiveModel::from(model.clone()).reset_all();
    if exists {
        statuses::Entity::update(active).exec(txn).await?;
    } else {
        statuses::Entity::insert(active).exec(txn).await?;
    }
    Ok(model)
}
