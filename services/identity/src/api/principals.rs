//! `TokenService`, `MunicipalityService`, `UserService` and `ServiceAccountService`.

use super::*;

#[tonic::async_trait]
impl pb::token_service_server::TokenService for IdentityApi {
    async fn exchange_api_key(
        &self,
        request: Request<pb::ExchangeApiKeyRequest>,
    ) -> Result<Response<pb::ExchangeApiKeyResponse>, Status> {
        let issued = self
            .registry
            .exchange_api_key(&request.into_inner().api_key)
            .await?;
        Ok(Response::new(pb::ExchangeApiKeyResponse {
            access_token: issued.token,
            token_type: "Bearer".into(),
            expire_time: Some(to_timestamp(issued.expires_at)),
        }))
    }

    async fn get_public_keys(
        &self,
        _request: Request<pb::GetPublicKeysRequest>,
    ) -> Result<Response<pb::GetPublicKeysResponse>, Status> {
        Ok(Response::new(pb::GetPublicKeysResponse {
            keys: self.registry.public_keys().to_vec(),
        }))
    }

    async fn get_caller(
        &self,
        request: Request<pb::GetCallerRequest>,
    ) -> Result<Response<pb::GetCallerResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(pb::GetCallerResponse {
            subject: caller.subject,
            municipality_id: caller
                .municipality_id
                .map(|m| m.to_string())
                .unwrap_or_default(),
            roles: caller.roles.into_iter().map(|r| r as i32).collect(),
        }))
    }

    async fn rotate_signing_key(
        &self,
        request: Request<pb::RotateSigningKeyRequest>,
    ) -> Result<Response<pb::RotateSigningKeyResponse>, Status> {
        let caller = caller(&request)?;
        let key = self.registry.rotate_signing_key(&caller).await?;
        Ok(Response::new(pb::RotateSigningKeyResponse {
            key: Some(key),
        }))
    }
}

#[tonic::async_trait]
impl pb::municipality_service_server::MunicipalityService for IdentityApi {
    async fn create_municipality(
        &self,
        request: Request<pb::CreateMunicipalityRequest>,
    ) -> Result<Response<pb::CreateMunicipalityResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let new = NewMunicipality {
            code: v.digits("code", &req.code, 3),
            name: v.text("name", &req.name, NAME_MAX),
            cvr_number: cvr_number(&mut v, "cvr_number", &req.cvr_number),
            debtor_system: debtor_system(&mut v, "debtor_system", req.debtor_system),
        };
        v.finish()?;
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "CreateMunicipality", &key, &req)?;
        let m = self.registry.create_municipality(&caller, new, key).await?;
        Ok(Response::new(pb::CreateMunicipalityResponse {
            municipality: Some(municipality(m)),
        }))
    }

    async fn get_municipality(
        &self,
        request: Request<pb::GetMunicipalityRequest>,
    ) -> Result<Response<pb::GetMunicipalityResponse>, Status> {
        caller(&request)?;
        let id = required_id("municipality_id", &request.get_ref().municipality_id)?;
        let m = self.registry.get_municipality(&id).await?;
        Ok(Response::new(pb::GetMunicipalityResponse {
            municipality: Some(municipality(m)),
        }))
    }

    async fn list_municipalities(
        &self,
        request: Request<pb::ListMunicipalitiesRequest>,
    ) -> Result<Response<pb::ListMunicipalitiesResponse>, Status> {
        caller(&request)?;
        let page = Page::from_request(request.get_ref().page.as_ref())?;
        let (rows, page) = self.registry.list_municipalities(&page).await?;
        Ok(Response::new(pb::ListMunicipalitiesResponse {
            municipalities: rows.into_iter().map(municipality).collect(),
            page: Some(page),
        }))
    }

    async fn update_municipality(
        &self,
        request: Request<pb::UpdateMunicipalityRequest>,
    ) -> Result<Response<pb::UpdateMunicipalityResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("municipality_id", &req.municipality_id);
        let changes = MunicipalityChanges {
            name: req.name.as_deref().map(|n| v.text("name", n, NAME_MAX)),
            cvr_number: req
                .cvr_number
                .as_deref()
                .map(|c| cvr_number(&mut v, "cvr_number", c)),
            debtor_system: req
                .debtor_system
                .map(|d| debtor_system(&mut v, "debtor_system", d)),
            active: req.active,
        };
        v.finish()?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        let m = self
            .registry
            .update_municipality(&caller, &id, req.expected_version, changes)
            .await?;
        Ok(Response::new(pb::UpdateMunicipalityResponse {
            municipality: Some(municipality(m)),
        }))
    }
}

#[tonic::async_trait]
impl pb::user_service_server::UserService for IdentityApi {
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::CreateUserResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let municipality_id = v.optional_id("municipality_id", &req.municipality_id);
        let new = NewUser {
            municipality_id,
            name: v.text("name", &req.name, NAME_MAX),
            email: v.email("email", &req.email),
            roles: checked_roles(&mut v, "roles", &req.roles, municipality_id, false),
        };
        v.finish()?;
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "CreateUser", &key, &req)?;
        let u = self.registry.create_user(&caller, new, key).await?;
        Ok(Response::new(pb::CreateUserResponse {
            user: Some(user(u)),
        }))
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("user_id", &request.get_ref().user_id)?;
        let u = self.registry.get_user(&caller, &id).await?;
        Ok(Response::new(pb::GetUserResponse {
            user: Some(user(u)),
        }))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let municipality_id = v.optional_id("municipality_id", &req.municipality_id);
        v.finish()?;
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self
            .registry
            .list_users(
                &caller,
                municipality_id,
                Some(req.email.trim()).filter(|e| !e.is_empty()),
                &page,
            )
            .await?;
        Ok(Response::new(pb::ListUsersResponse {
            users: rows.into_iter().map(user).collect(),
            page: Some(page),
        }))
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::UpdateUserResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("user_id", &req.user_id);
        let changes = UserChanges {
            name: req.name.as_deref().map(|n| v.text("name", n, NAME_MAX)),
            email: req.email.as_deref().map(|e| v.email("email", e)),
            roles: req
                .roles
                .as_ref()
                .map(|r| roles(&mut v, "roles.roles", &r.roles)),
            active: req.active,
        };
        v.finish()?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        let u = self
            .registry
            .update_user(&caller, &id, req.expected_version, changes)
            .await?;
        Ok(Response::new(pb::UpdateUserResponse {
            user: Some(user(u)),
        }))
    }

    async fn anonymize_user(
        &self,
        request: Request<pb::AnonymizeUserRequest>,
    ) -> Result<Response<pb::AnonymizeUserResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("user_id", &request.get_ref().user_id)?;
        let u = self.registry.anonymize_user(&caller, &id).await?;
        Ok(Response::new(pb::AnonymizeUserResponse {
            user: Some(user(u)),
        }))
    }
}

#[tonic::async_trait]
impl pb::service_account_service_server::ServiceAccountService for IdentityApi {
    async fn create_service_account(
        &self,
        request: Request<pb::CreateServiceAccountRequest>,
    ) -> Result<Response<pb::CreateServiceAccountResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let name = req.name.trim().to_owned();
        v.check("name", domain::check_service_account_name(&name));
        let municipality_id = v.optional_id("municipality_id", &req.municipality_id);
        let new = NewServiceAccount {
            name,
            description: v.optional_text("description", &req.description, DESCRIPTION_MAX),
            municipality_id,
            roles: checked_roles(&mut v, "roles", &req.roles, municipality_id, true),
        };
        v.finish()?;
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "CreateServiceAccount", &key, &req)?;
        let account = self
            .registry
            .create_service_account(&caller, new, key)
            .await?;
        Ok(Response::new(pb::CreateServiceAccountResponse {
            service_account: Some(service_account(account)),
        }))
    }

    async fn list_service_accounts(
        &self,
        request: Request<pb::ListServiceAccountsRequest>,
    ) -> Result<Response<pb::ListServiceAccountsResponse>, Status> {
        let caller = caller(&request)?;
        let page = Page::from_request(request.get_ref().page.as_ref())?;
        let (rows, page) = self.registry.list_service_accounts(&caller, &page).await?;
        Ok(Response::new(pb::ListServiceAccountsResponse {
            service_accounts: rows.into_iter().map(service_account).collect(),
            page: Some(page),
        }))
    }

    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Result<Response<pb::CreateApiKeyResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let subject = subject(&mut v, "subject", &req.subject);
        let description = v.optional_text("description", &req.description, DESCRIPTION_MAX);
        let expires_at = req.expire_time.as_ref().and_then(|t| {
            let time = from_timestamp(t).filter(|t| *t > chrono::Utc::now());
            if time.is_none() {
                v.violation("expire_time", "must be a valid time in the future");
            }
            time
        });
        v.finish()?;
        let Some(subject) = subject else {
            return Err(Error::invalid("subject", "is required").into());
        };
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "CreateApiKey", &key, &req)?;
        let created = self
            .registry
            .create_api_key(
                &caller,
                NewApiKey {
                    subject,
                    description,
                    expires_at,
                },
                key,
            )
            .await?;
        Ok(Response::new(pb::CreateApiKeyResponse {
            api_key: Some(api_key(created.key)),
            secret: created.secret.unwrap_or_default(),
        }))
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let subject = subject(&mut v, "subject", &req.subject);
        v.finish()?;
        let Some(subject) = subject else {
            return Err(Error::invalid("subject", "is required").into());
        };
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self.registry.list_api_keys(&caller, subject, &page).await?;
        Ok(Response::new(pb::ListApiKeysResponse {
            api_keys: rows.into_iter().map(api_key).collect(),
            page: Some(page),
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::RevokeApiKeyResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("api_key_id", &request.get_ref().api_key_id)?;
        let key = self.registry.revoke_api_key(&caller, &id).await?;
        Ok(Response::new(pb::RevokeApiKeyResponse {
            api_key: Some(api_key(key)),
        }))
    }
}
