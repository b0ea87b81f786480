//! Indexes for the sweeps, queues and reports, so each reads only the cases it needs: the due times
//! (the SLA sweep and alerts), a team's and an area's cases (queues), the filing time (old cases,
//! monthly counts) and the state (the backlog).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    ResponseDue,
    ResolutionDue,
    TeamId,
    AreaId,
    CreatedAt,
    State,
}

/// Each index: its name and columns.
fn indexes() -> [(&'static str, Vec<Cases>); 6] {
    [
        ("cases_by_response_due", vec![Cases::ResponseDue]),
        ("cases_by_resolution_due", vec![Cases::ResolutionDue]),
        ("cases_by_team", vec![Cases::TeamId, Cases::ResolutionDue]),
        ("cases_by_area", vec![Cases::AreaId]),
        ("cases_by_filing", vec![Cases::CreatedAt]),
        ("cases_by_state", vec![Cases::State, Cases::AreaId]),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns) in indexes() {
            let mut index = Index::create();
            index.name(name).table(Cases::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in indexes() {
            manager
                .drop_index(Index::drop().name(name).table(Cases::Table).to_owned())
                .await?;
        }
        Ok(())
    }
}
