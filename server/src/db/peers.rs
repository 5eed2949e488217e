//! Federation between deployments (issue 22, `service::federation`): the peer deployments a
//! municipality trusts, its federation settings, the nonces of the peers' signed requests, and
//! the disclosures made to the peers' fire departments. Every query is scoped by municipality.

use super::DbConnection;
use super::schema::*;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = federation_peers, primary_key(municipality_id, deployment_id))]
pub struct PeerRow {
    pub municipality_id: String,
    pub deployment_id: String,
    /// Where this deployment calls the peer (the origin the operator gave).
    pub base_url: String,
    pub trust_list_url: String,
    /// The peer's pinned trust-list key (a JWK, JSON).
    pub trust_key: String,
    pub list_version: i64,
    /// The peer's last verified trust list (base64url of the signed COSE bytes).
    pub trust_list: String,
    pub added_at: i64,
    pub refreshed_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = federated_accesses)]
pub struct FederatedAccessRow {
    pub id: String,
    pub municipality_id: String,
    pub resident_id: String,
    pub card_id: String,
    pub deployment_id: String,
    pub facility_id: String,
    pub facility_name_ja: String,
    pub facility_name_en: String,
    pub purpose: String,
    pub incident_ref: String,
    pub categories: String,
    pub created_at: i64,
}

pub fn peers(conn: &mut DbConnection, muni: &str) -> QueryResult<Vec<PeerRow>> {
    federation_peers::table
        .filter(federation_peers::municipality_id.eq(muni))
        .order(federation_peers::deployment_id)
        .select(PeerRow::as_select())
        .load(conn)
}

pub fn peer(conn: &mut DbConnection, muni: &str, deployment: &str) -> QueryResult<Option<PeerRow>> {
    federation_peers::table
        .filter(federation_peers::municipality_id.eq(muni))
        .filter(federation_peers::deployment_id.eq(deployment))
        .select(PeerRow::as_select())
        .get_result(conn)
        .optional()
}

pub fn insert_peer(conn: &mut DbConnection, row: &PeerRow) -> QueryResult<usize> {
    diesel::insert_into(federation_peers::table)
        .values(row)
        .execute(conn)
}

pub fn update_peer(conn: &mut DbConnection, row: &PeerRow) -> QueryResult<usize> {
    diesel::update(
        federation_peers::table
            .filter(federation_peers::municipality_id.eq(&row.municipality_id))
            .filter(federation_peers::deployment_id.eq(&row.deployment_id)),
    )
    .set(row)
    .execute(conn)
}

pub fn delete_peer(conn: &mut DbConnection, muni: &str, deployment: &str) -> QueryResult<usize> {
    diesel::delete(
        federation_peers::table
            .filter(federation_peers::municipality_id.eq(muni))
            .filter(federation_peers::deployment_id.eq(deployment)),
    )
    .execute(conn)
}

/// The settings row: (peers epoch, allow break-glass); defaults (0, false) when absent.
pub fn settings(conn: &mut DbConnection, muni: &str) -> QueryResult<(i64, bool)> {
    Ok(federation_settings::table
        .filter(federation_settings::municipality_id.eq(muni))
        .select((
            federation_settings::peers_epoch,
            federation_settings::allow_break_glass,
        ))
        .get_result(conn)
        .optional()?
        .unwrap_or((0, false)))
}

fn put_settings(conn: &mut DbConnection, muni: &str, epoch: i64, allow: bool) -> QueryResult<()> {
    let n = diesel::update(
        federation_settings::table.filter(federation_settings::municipality_id.eq(muni)),
    )
    .set((
        federation_settings::peers_epoch.eq(epoch),
        federation_settings::allow_break_glass.eq(allow),
    ))
    .execute(conn)?;
    if n == 0 {
        diesel::insert_into(federation_settings::table)
            .values((
                federation_settings::municipality_id.eq(muni),
                federation_settings::peers_epoch.eq(epoch),
                federation_settings::allow_break_glass.eq(allow),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Adds one to the peers epoch (a peer added, changed or removed).
pub fn bump_epoch(conn: &mut DbConnection, muni: &str) -> QueryResult<()> {
    let (epoch, allow) = settings(conn, muni)?;
    put_settings(conn, muni, epoch + 1, allow)
}

pub fn set_allow_break_glass(conn: &mut DbConnection, muni: &str, allow: bool) -> QueryResult<()> {
    let (epoch, _) = settings(conn, muni)?;
    put_settings(conn, muni, epoch, allow)
}

/// Records a peer request's nonce; 0 rows if it was spent already (a replay).
pub fn insert_nonce(
    conn: &mut DbConnection,
    muni: &str,
    deployment: &str,
    created: i64,
    nonce: &str,
) -> QueryResult<usize> {
    let row = (
        federation_nonces::created.eq(created),
        federation_nonces::deployment_id.eq(deployment),
        federation_nonces::nonce.eq(nonce),
        federation_nonces::municipality_id.eq(muni),
    );
    crate::native!(conn, c => {
        diesel::insert_into(federation_nonces::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)
    })
}

/// Deletes the peer nonces signed before `before`.
pub fn delete_nonces_created_before(conn: &mut DbConnection, before: i64) -> QueryResult<usize> {
    diesel::delete(federation_nonces::table.filter(federation_nonces::created.lt(before)))
        .execute(conn)
}

pub fn insert_access(conn: &mut DbConnection, row: &FederatedAccessRow) -> QueryResult<usize> {
    diesel::insert_into(federated_accesses::table)
        .values(row)
        .execute(conn)
}

/// The peers' fire departments that read this resident's record: (deployment, facility id)
/// → (name ja, name en), the latest names.
pub fn facility_names(
    conn: &mut DbConnection,
    muni: &str,
    resident_id: &str,
) -> QueryResult<Vec<(String, String, String, String)>> {
    federated_accesses::table
        .filter(federated_accesses::municipality_id.eq(muni))
        .filter(federated_accesses::resident_id.eq(resident_id))
        .order(federated_accesses::created_at)
        .select((
            federated_accesses::deployment_id,
            federated_accesses::facility_id,
            federated_accesses::facility_name_ja,
            federated_accesses::facility_name_en,
        ))
        .load(conn)
}
