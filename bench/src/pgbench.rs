//! PostgreSQL alone, as the yardstick of the load harness's filings on PostgreSQL: `pgbench` on the
//! same server in the same sitting, running (1) one single-row INSERT per transaction, the figure
//! issue #15 compares creates with, and (2) the statements of one filing on the harness's own cases
//! database (`pgbench/filing.sql`), PostgreSQL's own ceiling for a filing on this machine with nothing
//! of kommune around it. `pgbench` is taken from `KOMMUNE_PGBENCH`, else from the PATH.

use std::path::PathBuf;

use sea_orm::{ConnectionTrait, Statement};

use kommune_platform::BoxError;
use kommune_platform::testing::fresh_database_url;

use crate::desk::Desk;

/// The name of these rows, for `--only`.
pub const ROW: &str = "pgbench";

const INSERT_SCRIPT: &str = include_str!("../pgbench/insert.sql");
const FILING_SCRIPT: &str = include_str!("../pgbench/filing.sql");

/// The two scripts, ready to run.
pub struct Yardstick {
    program: String,
    scripts: PathBuf,
    inserts_database: String,
    cases_database: String,
    /// `-D name=value` for the filing script.
    filing_variables: Vec<String>,
}

impl Yardstick {
    /// Prepares a database for the inserts beside `cases_database` (the harness's, where `desk` filed).
    pub async fn prepare(cases_database: &str, desk: &Desk) -> Result<Self, BoxError> {
        let scripts = std::env::temp_dir().join(format!("kommune-pgbench-{}", std::process::id()));
        std::fs::create_dir_all(&scripts)?;
        std::fs::write(scripts.join("insert.sql"), INSERT_SCRIPT)?;
        std::fs::write(scripts.join("filing.sql"), FILING_SCRIPT)?;
        let inserts_database = fresh_database_url("pgbench").await;
        let inserts = sea_orm::Database::connect(&inserts_database).await?;
        inserts
            .execute_unprepared(
                "CREATE TABLE pgbench_rows (id bigserial PRIMARY KEY, payload text)",
            )
            .await?;
        inserts.close().await?;
        // Who filed the desk's first case, and where: the filing script files as them.
        let cases = sea_orm::Database::connect(cases_database).await?;
        let first = cases
            .query_one_raw(Statement::from_sql_and_values(
                cases.get_database_backend(),
                "SELECT municipality_id, reporter_user_id FROM cases WHERE id = $1",
                [desk.first_case.clone().into()],
            ))
            .await?
            .ok_or("the desk's first case is not in the cases database")?;
        let municipality: String = first.try_get("", "municipality_id")?;
        let reporter: String = first.try_get("", "reporter_user_id")?;
        cases.close().await?;
        let systems = format!("{{{}}}", desk.spread_system_ids.join(","));
        Ok(Self {
            program: std::env::var("KOMMUNE_PGBENCH").unwrap_or_else(|_| "pgbench".into()),
            scripts,
            inserts_database,
            cases_database: cases_database.to_owned(),
            filing_variables: vec![
                format!("systems={systems}"),
                format!("area={}", desk.area_id),
                format!("municipality={municipality}"),
                format!("reporter={reporter}"),
            ],
        })
    }

    /// Runs both scripts for `seconds` with `clients` connections, printing a row each.
    pub async fn run(&self, clients: usize, seconds: u64) -> Result<(), BoxError> {
        let inserts = self
            .pgbench(clients, seconds, "insert.sql", &self.inserts_database, &[])
            .await?;
        print_row(clients, "one single-row INSERT", &inserts);
        let filings = self
            .pgbench(
                clients,
                seconds,
                "filing.sql",
                &self.cases_database,
                &self.filing_variables,
            )
            .await?;
        print_row(
            clients,
            "a filing's statements (bench/pgbench/filing.sql)",
            &filings,
        );
        Ok(())
    }

    async fn pgbench(
        &self,
        clients: usize,
        seconds: u64,
        script: &str,
        database: &str,
        variables: &[String],
    ) -> Result<Figures, BoxError> {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(["-n", "-M", "prepared", "-c", &clients.to_string()])
            .args([
                "-j",
                &clients.min(2).to_string(),
                "-T",
                &seconds.to_string(),
            ])
            .arg("-f")
            .arg(self.scripts.join(script));
        for variable in variables {
            command.arg("-D").arg(variable);
        }
        let output = command.arg(database).output().await?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            let err = String::from_utf8_lossy(&output.stderr);
            return Err(format!("pgbench failed: {text}{err}").into());
        }
        Figures::read(&text).ok_or_else(|| format!("pgbench said no figures: {text}").into())
    }
}

impl Drop for Yardstick {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scripts);
    }
}

/// What pgbench reports of a run.
#[derive(Debug, PartialEq)]
struct Figures {
    transactions_per_second: f64,
    latency_average_ms: f64,
}

impl Figures {
    fn read(output: &str) -> Option<Self> {
        let figure = |prefix: &str| {
            output.lines().find_map(|line| {
                let rest = line.trim().strip_prefix(prefix)?;
                rest.split_whitespace().next()?.parse::<f64>().ok()
            })
        };
        Some(Self {
            transactions_per_second: figure("tps = ")?,
            latency_average_ms: figure("latency average = ")?,
        })
    }
}

/// The header of the rows [`Yardstick::run`] prints.
pub fn print_header() {
    println!(
        "| in flight | PostgreSQL alone (pgbench, same server) | transactions/s | latency average |"
    );
    println!("|---|---|---|---|");
}

fn print_row(clients: usize, what: &str, figures: &Figures) {
    println!(
        "| {clients} | {what} | {:.0} | {:.2} ms |",
        figures.transactions_per_second, figures.latency_average_ms
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rate_and_latency_pgbench_prints() {
        let output = "number of failed transactions: 0 (0.000%)\n\
                      latency average = 19.534 ms\n\
                      initial connection time = 12.410 ms\n\
                      tps = 819.099836 (without initial connection time)\n";
        assert_eq!(
            Figures::read(output),
            Some(Figures {
                transactions_per_second: 819.099836,
                latency_average_ms: 19.534,
            })
        );
        assert_eq!(Figures::read("pgbench: error: no such file"), None);
    }
}
