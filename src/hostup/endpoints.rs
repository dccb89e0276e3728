//! The HostUp endpoints the provider uses: one method of [`Client`] per endpoint.
//!
//! Exists so that each endpoint is named once, with its path, the scope it needs, what its
//! errors are about (VPS, snapshot, backup, job) and its request class (a read, a synchronous
//! write or a job-creating write, see [`super::transport`]); how a request is sent and retried
//! is not decided here. Ids are checked and kept in one path segment each.

use std::collections::HashSet;
use std::time::Duration;

use http::Method;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::client::Client;
use super::error::{Error, RequestInfo};
use super::jobs::{JobRef, JobSnapshot};
use super::models::{
    BackupList, CreateBackup, CreateSnapshot, Operation, RestoreFromVps, RestoreSources,
    SnapshotList, Vps, VpsPage,
};
use super::transport::{json_body, Request};

/// Pages walked at most when listing VPSs (100 per page).
const MAX_PAGES: usize = 1000;

pub(super) const SCOPE_READ: &str = "read:vm";
pub(super) const SCOPE_BACKUP: &str = "backup:vm";
/// Scope of the schedule and backup-settings writes.
pub(super) const SCOPE_WRITE: &str = "write:vm";

/// Query of `GET /api/v2/vps`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VpsListQuery {
    /// Page size, 1–100.
    pub limit: Option<u32>,
    /// Cursor from a previous page's `nextCursor`.
    pub cursor: Option<String>,
    /// Exact display name (case-insensitive).
    pub name: Option<String>,
    /// Exact primary IP.
    pub primary_ip: Option<String>,
}

impl Client {
    fn url(&self, segments: &[&str]) -> Result<Url, Error> {
        let mut url = self.inner.origin.clone();
        {
            let mut p = url.path_segments_mut().map_err(|_| Error::InvalidInput {
                message: "the endpoint cannot have a path".into(),
            })?;
            p.pop_if_empty();
            p.extend(segments);
        }
        Ok(url)
    }

    pub(super) fn v2(&self, segments: &[&str]) -> Result<Url, Error> {
        let mut all = vec!["api", "v2"];
        all.extend_from_slice(segments);
        self.url(&all)
    }

    pub(super) fn info(
        &self,
        method: Method,
        url: &Url,
        operation: &'static str,
        scope: Option<&'static str>,
        vps_id: Option<&str>,
        target: Option<&str>,
    ) -> RequestInfo {
        let mut info = RequestInfo::new(method, url.path().to_string(), operation);
        info.required_scope = scope;
        info.vps_id = vps_id.map(str::to_string);
        info.target = target.map(str::to_string);
        info
    }

    /// One page of `GET /api/v2/vps`.
    pub async fn list_vps_page(&self, query: &VpsListQuery) -> Result<VpsPage, Error> {
        let mut url = self.v2(&["vps"])?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(l) = query.limit {
                q.append_pair("limit", &l.clamp(1, 100).to_string());
            }
            if let Some(c) = &query.cursor {
                q.append_pair("cursor", c);
            }
            if let Some(n) = &query.name {
                q.append_pair("name", n);
            }
            if let Some(ip) = &query.primary_ip {
                q.append_pair("primaryIp", ip);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let info = self.info(Method::GET, &url, "list VPSs", Some(SCOPE_READ), None, None);
        self.get_json(url, info).await
    }

    /// Every VPS matching `query`, walking all pages (100 per page unless `query.limit`).
    pub async fn list_all_vps(&self, query: &VpsListQuery) -> Result<Vec<Vps>, Error> {
        let mut q = query.clone();
        q.limit = Some(q.limit.unwrap_or(100));
        let mut seen = HashSet::new();
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let page = self.list_vps_page(&q).await?;
            all.extend(page.data);
            match page.next_cursor.filter(|c| !c.is_empty()) {
                None => return Ok(all),
                Some(c) => {
                    if !seen.insert(c.clone()) {
                        return Err(Error::InvalidInput {
                            message: format!(
                                "HostUp returned the VPS list cursor {c:?} twice; stopped paging"
                            ),
                        });
                    }
                    q.cursor = Some(c);
                }
            }
        }
        Err(Error::InvalidInput {
            message: format!("the VPS list has more than {MAX_PAGES} pages"),
        })
    }

    /// The VPSs whose display name is `name` (case-insensitive), using HostUp's `name` filter
    /// and checking the names again (names are not unique: the caller decides on 0 or 2+).
    pub async fn find_vps_by_name(&self, name: &str) -> Result<Vec<Vps>, Error> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::InvalidInput {
                message: "the VPS name is empty".into(),
            });
        }
        let q = VpsListQuery {
            name: Some(name.to_string()),
            ..VpsListQuery::default()
        };
        let all = self.list_all_vps(&q).await?;
        Ok(all
            .into_iter()
            .filter(|v| {
                v.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .collect())
    }

    /// `GET /api/v2/vps/{id}`.
    pub async fn get_vps(&self, vps_id: &str) -> Result<Vps, Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id])?;
        let info = self.info(
            Method::GET,
            &url,
            "read the VPS",
            Some(SCOPE_READ),
            Some(id),
            None,
        );
        self.get_json(url, info).await
    }

    /// `GET /api/v2/vps/{id}/snapshots`: snapshots, slots and gates.
    pub async fn list_snapshots(&self, vps_id: &str) -> Result<SnapshotList, Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id, "snapshots"])?;
        let info = self.info(
            Method::GET,
            &url,
            "list the VPS's snapshots",
            Some(SCOPE_READ),
            Some(id),
            None,
        );
        self.get_json(url, info).await
    }

    /// `POST /api/v2/vps/{id}/snapshots`: queues a snapshot.
    pub async fn create_snapshot(
        &self,
        vps_id: &str,
        req: &CreateSnapshot,
    ) -> Result<Operation, Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id, "snapshots"])?;
        let info = self.info(
            Method::POST,
            &url,
            "create a snapshot",
            Some(SCOPE_BACKUP),
            Some(id),
            Some(&req.name),
        );
        let body = json_body(req)?;
        self.send_job(Method::POST, url, Some(body), info)
            .await?
            .ok_or_else(|| no_operation(id))
    }

    /// `DELETE /api/v2/vps/{id}/snapshots/{name}`: a job (202) or done at once (204 → None).
    pub async fn delete_snapshot(
        &self,
        vps_id: &str,
        name: &str,
    ) -> Result<Option<Operation>, Error> {
        let id = check_id("VPS id", vps_id)?;
        let name = check_id("snapshot name", name)?;
        let url = self.v2(&["vps", id, "snapshots", name])?;
        let info = self.info(
            Method::DELETE,
            &url,
            "delete the snapshot",
            Some(SCOPE_BACKUP),
            Some(id),
            Some(name),
        );
        self.send_job(Method::DELETE, url, None, info).await
    }

    /// `POST /api/v2/vps/{id}/snapshots/{name}/actions/restore`: queues a (destructive) rollback.
    pub async fn restore_snapshot(&self, vps_id: &str, name: &str) -> Result<Operation, Error> {
        let id = check_id("VPS id", vps_id)?;
        let name = check_id("snapshot name", name)?;
        let url = self.v2(&["vps", id, "snapshots", name, "actions", "restore"])?;
        let info = self.info(
            Method::POST,
            &url,
            "restore the snapshot",
            Some(SCOPE_BACKUP),
            Some(id),
            Some(name),
        );
        self.send_job(Method::POST, url, None, info)
            .await?
            .ok_or_else(|| no_operation(id))
    }

    /// `GET /api/v2/vps/{id}/backups`: backups, quota and gates.
    pub async fn list_backups(&self, vps_id: &str) -> Result<BackupList, Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id, "backups"])?;
        let info = self.info(
            Method::GET,
            &url,
            "list the VPS's backups",
            Some(SCOPE_READ),
            Some(id),
            None,
        );
        self.get_json(url, info).await
    }

    /// `POST /api/v2/vps/{id}/backups`: queues an offsite backup (no body without a note).
    pub async fn create_backup(
        &self,
        vps_id: &str,
        req: &CreateBackup,
    ) -> Result<Operation, Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id, "backups"])?;
        let info = self.info(
            Method::POST,
            &url,
            "create a backup",
            Some(SCOPE_BACKUP),
            Some(id),
            None,
        );
        let body = if req.note.is_some() {
            Some(json_body(req)?)
        } else {
            None
        };
        self.send_job(Method::POST, url, body, info)
            .await?
            .ok_or_else(|| no_operation(id))
    }

    /// `DELETE /api/v2/vps/{id}/backups/{backupId}`: deletes a backup, a synchronous write
    /// (retried like a read until HostUp's answer begins); documented as 204 (done, `None`), a
    /// 202 job is accepted too.
    pub async fn delete_backup(
        &self,
        vps_id: &str,
        backup_id: &str,
    ) -> Result<Option<Operation>, Error> {
        let id = check_id("VPS id", vps_id)?;
        let bid = check_id("backup id", backup_id)?;
        let url = self.v2(&["vps", id, "backups", bid])?;
        let info = self.info(
            Method::DELETE,
            &url,
            "delete the backup",
            Some(SCOPE_BACKUP),
            Some(id),
            Some(bid),
        );
        let op: Option<Operation> = self.write(Method::DELETE, url, None, info).await?;
        Ok(op.map(|op| Operation {
            vps_id: Some(id.to_string()),
            ..op
        }))
    }

    /// `POST /api/v2/vps/{id}/backups/{backupId}/actions/restore`: queues a (destructive)
    /// restore of one of the VPS's own backups.
    pub async fn restore_backup(&self, vps_id: &str, backup_id: &str) -> Result<Operation, Error> {
        let id = check_id("VPS id", vps_id)?;
        let bid = check_id("backup id", backup_id)?;
        let url = self.v2(&["vps", id, "backups", bid, "actions", "restore"])?;
        let info = self.info(
            Method::POST,
            &url,
            "restore the backup",
            Some(SCOPE_BACKUP),
            Some(id),
            Some(bid),
        );
        self.send_job(Method::POST, url, None, info)
            .await?
            .ok_or_else(|| no_operation(id))
    }

    /// `POST /api/v2/vps/{id}/backups/actions/restore-from-vps`: queues a (destructive)
    /// restore of another VPS's backup onto this one.
    pub async fn restore_backup_from_vps(
        &self,
        vps_id: &str,
        req: &RestoreFromVps,
    ) -> Result<Operation, Error> {
        let id = check_id("VPS id", vps_id)?;
        check_id("VPS id", &req.source_vps_id)?;
        check_id("backup id", &req.backup_id)?;
        let url = self.v2(&["vps", id, "backups", "actions", "restore-from-vps"])?;
        let info = self.info(
            Method::POST,
            &url,
            "restore another VPS's backup",
            Some(SCOPE_BACKUP),
            Some(id),
            Some(&req.backup_id),
        );
        let body = json_body(req)?;
        self.send_job(Method::POST, url, Some(body), info)
            .await?
            .ok_or_else(|| no_operation(id))
    }

    /// `GET /api/v2/vps/{id}/backups/restore-sources`: whose backups can be restored here.
    pub async fn restore_sources(&self, vps_id: &str) -> Result<RestoreSources, Error> {
        let id = check_id("VPS id", vps_id)?;
        let url = self.v2(&["vps", id, "backups", "restore-sources"])?;
        let info = self.info(
            Method::GET,
            &url,
            "list the VPS's restore sources",
            Some(SCOPE_BACKUP),
            Some(id),
            None,
        );
        self.get_json(url, info).await
    }

    /// Resolves a job's poll URL: `pollUrl` against the origin (it is host-rooted), falling
    /// back to `/api/jobs/{id}` when it is absent or points at another origin (the API key
    /// must never be sent elsewhere).
    pub fn job_url(&self, job: &JobRef) -> Result<Url, Error> {
        if let Some(p) = job
            .poll_url
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match self.inner.origin.join(p) {
                Ok(u) if u.origin() == self.inner.origin.origin() => return Ok(u),
                _ => tracing::warn!(
                    job_id = %job.job_id,
                    "ignoring a pollUrl outside the HostUp endpoint; polling /api/jobs/{{id}}"
                ),
            }
        }
        let id = check_id("job id", &job.job_id)?;
        self.url(&["api", "jobs", id])
    }

    /// `GET /api/jobs/{jobId}` once.
    pub async fn get_job(&self, job: &JobRef) -> Result<JobSnapshot, Error> {
        self.fetch_job(job, None).await.map(|(s, _)| s)
    }

    /// `GET /api/jobs/{jobId}` once, with the `Retry-After` HostUp sent (for the wait's next
    /// poll).
    pub(super) async fn fetch_job(
        &self,
        job: &JobRef,
        call_cancel: Option<&CancellationToken>,
    ) -> Result<(JobSnapshot, Option<Duration>), Error> {
        let url = self.job_url(job)?;
        let info = self.info(
            Method::GET,
            &url,
            "poll the job",
            None,
            None,
            Some(&job.job_id),
        );
        let reply = self.send(Request::read(url, info), call_cancel).await?;
        let value: Value = self.json(&reply)?;
        let snap = JobSnapshot::from_value(&value).map_err(|m| self.shape_error(&reply, m))?;
        Ok((snap, reply.retry_after()))
    }
}

/// `id` trimmed, or an error when it cannot be one path segment (empty, `.`, `..`, control
/// characters).
pub(super) fn check_id<'a>(what: &str, id: &'a str) -> Result<&'a str, Error> {
    let t = id.trim();
    if t.is_empty() || t == "." || t == ".." || t.chars().any(char::is_control) {
        return Err(Error::InvalidInput {
            message: format!("the {what} {id:?} is not valid"),
        });
    }
    Ok(t)
}

fn no_operation(vps_id: &str) -> Error {
    Error::InvalidInput {
        message: format!(
            "HostUp answered 204 without a job for VPS {vps_id}, where a job was expected"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostup::ClientConfig;

    fn client(endpoint: &str) -> Client {
        Client::new(ClientConfig::new(endpoint, "k-123456").unwrap()).unwrap()
    }

    fn job(id: &str, poll: Option<&str>) -> JobRef {
        JobRef {
            job_id: id.into(),
            poll_url: poll.map(str::to_string),
            initial_status: None,
            vps_id: None,
        }
    }

    #[test]
    fn poll_url_resolves_against_the_origin_not_api_v2() {
        let c = client("https://cloud.hostup.se/api/v2/");
        let url = |j: &JobRef| c.job_url(j).unwrap().to_string();
        assert_eq!(
            url(&job("job_1", Some("/api/jobs/job_1"))),
            "https://cloud.hostup.se/api/jobs/job_1"
        );
        // Relative without the leading slash, and absolute on the same origin.
        assert_eq!(
            url(&job("job_1", Some("api/jobs/job_1"))),
            "https://cloud.hostup.se/api/jobs/job_1"
        );
        assert_eq!(
            url(&job(
                "job_1",
                Some("https://cloud.hostup.se/api/jobs/job_1?x=1")
            )),
            "https://cloud.hostup.se/api/jobs/job_1?x=1"
        );
        // Another origin (or scheme, or port) is never polled with our key.
        for foreign in [
            "https://evil.example/api/jobs/job_1",
            "http://cloud.hostup.se/api/jobs/job_1",
            "https://cloud.hostup.se:8443/api/jobs/job_1",
            "//evil.example/api/jobs/job_1",
        ] {
            assert_eq!(
                url(&job("job_1", Some(foreign))),
                "https://cloud.hostup.se/api/jobs/job_1",
                "{foreign}"
            );
        }
        // No pollUrl (a job id saved in state): /api/jobs/{id}, the id kept in one segment.
        assert_eq!(
            url(&job("job_1", None)),
            "https://cloud.hostup.se/api/jobs/job_1"
        );
        assert_eq!(
            url(&job("job_1", Some("  "))),
            "https://cloud.hostup.se/api/jobs/job_1"
        );
        assert_eq!(
            url(&job("a/b", None)),
            "https://cloud.hostup.se/api/jobs/a%2Fb"
        );
        assert!(c.job_url(&job("", None)).is_err());
    }

    #[test]
    fn endpoint_paths_keep_ids_in_one_segment() {
        let c = client("http://127.0.0.1:9/");
        let u = c.v2(&["vps", "vps_1", "snapshots", "a/b?c"]).unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9/api/v2/vps/vps_1/snapshots/a%2Fb%3Fc"
        );
        assert!(check_id("VPS id", "..").is_err());
        assert_eq!(check_id("VPS id", " vps_1 ").unwrap(), "vps_1");
    }
}
