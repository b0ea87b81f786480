//! Publications of the change-request list and their frozen rows.

use sea_orm::ConnectionTrait;
use sea_orm::{QueryOrder, QuerySelect};

use kommune_platform::paging::Page;
use kommune_platform::{Error, Reason};
use kommune_proto::common::v1::PageResponse;

/// Publications: number, note and date.
pub mod header {
    use sea_orm::entity::prelude::*;

    /// A publication as stored.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "publications")]
    pub struct Model {
        /// UUID (v7).
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// 1, 2, …
        pub number: i64,
        /// The publisher's note.
        pub note: String,
        /// Rows held.
        pub item_count: i64,
        /// Who published it.
        pub published_by: String,
        /// When.
        pub published_at: DateTimeUtc,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The frozen rows of publications.
pub mod items {
    use sea_orm::entity::prelude::*;

    /// A published row as stored (the published columns, plus what filters and search need).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "publication_items")]
    pub struct Model {
        /// The publication.
        #[sea_orm(primary_key, auto_increment = false)]
        pub publication_id: String,
        /// "Case Id".
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        /// The key's number, for key order.
        pub key_number: i64,
        /// "Changetheme".
        pub change_theme: String,
        /// "Subtheme".
        pub subtheme: String,
        /// "Title".
        pub title: String,
        /// "Description".
        pub description: String,
        /// "Workaround".
        pub workaround: String,
        /// "Status".
        pub status: String,
        /// "Municipality name".
        pub municipality_name: String,
        /// "Created".
        pub created: String,
        /// "Related cases".
        pub related_cases: String,
        /// Theme id.
        pub theme_id: String,
        /// Subtheme id, or empty.
        pub subtheme_id: String,
        /// Status code.
        pub status_code: i32,
        /// Asking municipality id.
        pub municipality_id: String,
        /// Lowercased title and description.
        pub search_text: String,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// What each publication's rows can be filtered by, counted once when it is published.
pub mod facets {
    use sea_orm::entity::prelude::*;

    /// One value of one kind, with how many rows have it.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "publication_facets")]
    pub struct Model {
        /// The publication.
        #[sea_orm(primary_key, auto_increment = false)]
        pub publication_id: String,
        /// `theme`, `subtheme`, `status` or `municipality`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        /// The id, or the status code in decimal.
        #[sea_orm(primary_key, auto_increment = false)]
        pub value: String,
        /// The name as published.
        pub name: String,
        /// Rows with it.
        pub item_count: i64,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The kinds of facet, with the columns of a row that give each one's value and name.
const FACETS: [(&str, items::Column, items::Column); 4] = [
    ("theme", items::Column::ThemeId, items::Column::ChangeTheme),
    (
        "subtheme",
        items::Column::SubthemeId,
        items::Column::Subtheme,
    ),
    ("status", items::Column::StatusCode, items::Column::Status),
    (
        "municipality",
        items::Column::MunicipalityId,
        items::Column::MunicipalityName,
    ),
];

/// Counts the facets of publication `publication_id` (of every publication when `None`) in the
/// database, one `INSERT … SELECT … GROUP BY` per kind: at publication, and once for those published
/// before facets were kept.
pub async fn count_facets(
    db: &impl ConnectionTrait,
    publication_id: Option<&str>,
) -> Result<(), sea_orm::DbErr> {
    use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Func, Query};
    for (kind, value, name) in FACETS {
        let mut counted = Query::select();
        counted
            .column(items::Column::PublicationId)
            .expr(Expr::val(kind))
            .expr(Expr::col(value).cast_as(Alias::new("TEXT")))
            .expr(Func::max(Expr::col(name)))
            .expr(Func::count(Expr::col(Asterisk)))
            .from(items::Entity)
            .and_where(Expr::col(value).cast_as(Alias::new("TEXT")).ne(""))
            .group_by_columns([items::Column::PublicationId, value]);
        if let Some(id) = publication_id {
            counted.and_where(items::Column::PublicationId.eq(id));
        }
        let insert = Query::insert()
            .into_table(facets::Entity)
            .columns([
                facets::Column::PublicationId,
                facets::Column::Kind,
                facets::Column::Value,
                facets::Column::Name,
                facets::Column::ItemCount,
            ])
            .select_from(counted)
            .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?
            .to_owned();
        db.execute(&insert).await?;
    }
    Ok(())
}

/// The facets of a publication, each kind in name order (statuses by code).
pub async fn facets_of(
    db: &impl ConnectionTrait,
    publication_id: &str,
) -> Result<Vec<facets::Model>, Error> {
    let mut found = facets::Entity::find()
        .filter(facets::Column::PublicationId.eq(publication_id))
        .all(db)
        .await?;
    found.sort_by(|a, b| {
        let order = |f: &facets::Model| match f.kind.as_str() {
            "status" => (f.value.parse::<i64>().unwrap_or_default(), String::new()),
            _ => (0, f.name.to_lowercase()),
        };
        (a.kind.as_str(), order(a)).cmp(&(b.kind.as_str(), order(b)))
    });
    Ok(found)
}

/// One row of a publication by its key.
pub async fn row(
    db: &impl ConnectionTrait,
    publication_id: &str,
    key: &str,
) -> Result<Option<items::Model>, Error> {
    Ok(
        items::Entity::find_by_id((publication_id.to_owned(), key.to_owned()))
            .one(db)
            .await?,
    )
}

use sea_orm::entity::prelude::*;

/// Stores a publication with its rows (in chunks, so a large list stays within statement limits).
pub async fn insert(
    txn: &impl ConnectionTrait,
    publication: header::Model,
    rows: Vec<items::Model>,
) -> Result<header::Model, Error> {
    let publication = header::ActiveModel::from(publication)
        .insert(txn)
        .await
        .map_err(|err| {
            if kommune_platform::db::is_unique_violation(&err) {
                Error::Aborted(
                    Reason::ConcurrentChange,
                    "another publication was made at the same time; retry".into(),
                )
            } else {
                err.into()
            }
        })?;
    for chunk in rows.chunks(500) {
        items::Entity::insert_many(chunk.iter().cloned().map(items::ActiveModel::from))
            .exec(txn)
            .await?;
    }
    count_facets(txn, Some(&publication.id)).await?;
    if is_sqlite(txn) {
        use sea_orm::sea_query::{Alias, Query};
        let indexed = Query::insert()
            .into_table(Alias::new(SEARCH_TABLE))
            .columns([
                Alias::new("search_text"),
                Alias::new("publication_id"),
                Alias::new("key"),
            ])
            .select_from(
                Query::select()
                    .columns([
                        items::Column::SearchText,
                        items::Column::PublicationId,
                        items::Column::Key,
                    ])
                    .from(items::Entity)
                    .and_where(items::Column::PublicationId.eq(&publication.id))
                    .to_owned(),
            )
            .map_err(|e| Error::internal(e.to_string()))?
            .to_owned();
        txn.execute(&indexed).await?;
    }
    Ok(publication)
}

/// The highest publication number so far (0 before the first).
pub async fn last_number(db: &impl ConnectionTrait) -> Result<i64, Error> {
    Ok(header::Entity::find()
        .order_by_desc(header::Column::Number)
        .one(db)
        .await?
        .map(|p| p.number)
        .unwrap_or_default())
}

/// Which publication a call means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    /// The newest.
    Latest,
    /// By id.
    Id(String),
    /// By number.
    Number(i64),
}

/// The publication `which` names, if there is one.
pub async fn find(
    db: &impl ConnectionTrait,
    which: &Which,
) -> Result<Option<header::Model>, Error> {
    let query = header::Entity::find();
    Ok(match which {
        Which::Id(id) => query.filter(header::Column::Id.eq(id)).one(db).await?,
        Which::Number(number) => {
            query
                .filter(header::Column::Number.eq(*number))
                .one(db)
                .await?
        }
        Which::Latest => query.order_by_desc(header::Column::Number).one(db).await?,
    })
}

/// A page of publications, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    page: &Page,
) -> Result<(Vec<header::Model>, PageResponse), Error> {
    let mut query = header::Entity::find()
        .order_by_desc(header::Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        query = query.filter(header::Column::Id.lt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |p| p.id.clone()))
}

/// What a page of rows is limited to.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this theme.
    pub theme_id: Option<String>,
    /// Only this subtheme.
    pub subtheme_id: Option<String>,
    /// Only this status code.
    pub status_code: Option<i32>,
    /// Only this asking municipality.
    pub municipality_id: Option<String>,
    /// Every word must occur in the lowercased title and description.
    pub terms: Vec<String>,
}

/// Erasure: in every published row of the change request `key`, the texts named become `erased`, and
/// what search matches on follows.
pub async fn erase_texts(
    txn: &impl ConnectionTrait,
    key: &str,
    (title, description, workaround): (bool, bool, bool),
    erased: &str,
) -> Result<(), Error> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let rows = items::Entity::find()
        .filter(items::Column::Key.eq(key))
        .all(txn)
        .await?;
    for mut row in rows {
        if title {
            row.title = erased.to_owned();
        }
        if description {
            row.description = erased.to_owned();
        }
        if workaround {
            row.workaround = erased.to_owned();
        }
        row.search_text = crate::domain::publication::search_text(&row.title, &row.description);
        if is_sqlite(txn) {
            let indexed = Query::update()
                .table(Alias::new(SEARCH_TABLE))
                .value(Alias::new("search_text"), row.search_text.clone())
                .and_where(Expr::col(Alias::new("key")).eq(key))
                .and_where(Expr::col(Alias::new("publication_id")).eq(row.publication_id.clone()))
                .to_owned();
            txn.execute(&indexed).await?;
        }
        items::ActiveModel::from(row)
            .reset_all()
            .update(txn)
            .await?;
    }
    Ok(())
}

/// SQLite's trigram index of the published rows' search text (PostgreSQL indexes the column itself).
const SEARCH_TABLE: &str = "publication_search";

fn is_sqlite(db: &impl ConnectionTrait) -> bool {
    db.get_database_backend() == sea_orm::DbBackend::Sqlite
}

/// How many rows the trigram index may name before a search reads the rows in key order instead.
const FEW_MATCHES: u64 = 500;

/// The keys of a publication's rows that hold every word of three letters or more (the trigram
/// index cannot look for shorter ones), when there are fewer than `FEW_MATCHES`: then the page is read
/// from those rows alone. `None` when there are more (the words are common, so reading in key order
/// until a page is full is quick) or no word is long enough. The `LIKE` filters still decide.
async fn indexed_matches(
    db: &impl ConnectionTrait,
    publication_id: &str,
    terms: &[String],
) -> Result<Option<Vec<String>>, Error> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let words: Vec<String> = terms
        .iter()
        .filter(|term| term.chars().count() >= 3)
        .map(|term| format!("\"{}\"", term.replace('"', "\"\"")))
        .collect();
    if words.is_empty() {
        return Ok(None);
    }
    let select = Query::select()
        .column(Alias::new("key"))
        .from(Alias::new(SEARCH_TABLE))
        .and_where(Expr::cust_with_values(
            format!("{SEARCH_TABLE} MATCH ?"),
            [words.join(" AND ")],
        ))
        .and_where(Expr::col(Alias::new("publication_id")).eq(publication_id))
        .limit(FEW_MATCHES)
        .to_owned();
    let keys = db
        .query_all(&select)
        .await?
        .into_iter()
        .map(|row| row.try_get::<String>("", "key"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((keys.len() < FEW_MATCHES as usize).then_some(keys))
}

/// A row's position in key order, as pages continue after it.
pub fn position(row: &items::Model) -> String {
    format!("{} {}", row.key_number, row.key)
}

/// A page of a publication's rows in key order. The page token is the last row's key number and key.
pub async fn rows(
    db: &impl ConnectionTrait,
    publication_id: &str,
    filter: Filter,
    page: &Page,
) -> Result<(Vec<items::Model>, PageResponse), Error> {
    use items::Column;
    let mut query = items::Entity::find()
        .filter(Column::PublicationId.eq(publication_id))
        .order_by_asc(Column::KeyNumber)
        .order_by_asc(Column::Key)
        .limit(page.fetch_limit());
    if let Some(theme) = filter.theme_id {
        query = query.filter(Column::ThemeId.eq(theme));
    }
    if let Some(subtheme) = filter.subtheme_id {
        query = query.filter(Column::SubthemeId.eq(subtheme));
    }
    if let Some(code) = filter.status_code {
        query = query.filter(Column::StatusCode.eq(code));
    }
    if let Some(municipality) = filter.municipality_id {
        query = query.filter(Column::MunicipalityId.eq(municipality));
    }
    if is_sqlite(db)
        && let Some(keys) = indexed_matches(db, publication_id, &filter.terms).await?
    {
        query = query.filter(Column::Key.is_in(keys));
    }
    for term in filter.terms {
        query = query.filter(Column::SearchText.contains(term));
    }
    if let Some(after) = &page.after {
        let (number, key) = after.split_once(' ').unwrap_or((after.as_str(), ""));
        let number: i64 = number
            .parse()
            .map_err(|_| Error::invalid("page.page_token", "is not a token of this list"))?;
        query = query.filter(
            sea_orm::Condition::any()
                .add(Column::KeyNumber.gt(number))
                .add(
                    sea_orm::Condition::all()
                        .add(Column::KeyNumber.eq(number))
                        .add(Column::Key.gt(key)),
                ),
        );
    }
    Ok(page.finish(query.all(db).await?, position))
}
