//! Admin pages: feature flags (`/admin`), an experiment's report (`/admin/experiments/:flag`),
//! price/stock edits (`/admin/products`) and orders with their payment state (`/admin/orders`).

use crate::api::catalog_admin::{admin_products, UpdateProduct};
use crate::api::checkout::{admin_orders, RetryCapture};
use crate::api::experiments::{admin_flags, experiment_report, UpdateFlag};
use crate::components::page_title::PageTitle;
use crate::domain::experiments::{Report, Step, SRM_ALPHA};
use crate::domain::money::format_cents;
use crate::domain::variants::variant_href;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Meta;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_params_map, use_query_map};

pub(crate) fn denied(e: AppError, next: &str) -> AnyView {
    match e {
        AppError::Unauthorized(_) => {
            view! { <Redirect path=crate::domain::redirect::with_next("/login", next) /> }.into_any()
        }
        other => super::error_view(other),
    }
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let update = ServerAction::<UpdateFlag>::new();
    let flags = Resource::new(move || update.version().get(), |_| admin_flags());
    view! {
        <PageTitle text="Feature flags · Admin" />
        <Meta name="robots" content="noindex" />
        <h1>"Feature flags"</h1>
        <AdminNav />
        <p class="lede">
            "Changes apply at once here and on every other instance within seconds. Variants are "
            <code>"name:weight"</code> " pairs; the first is the control, which everyone gets while a flag is off."
        </p>
        {move || update.value().get().and_then(Result::err).map(|e| view! { <p class="notice notice-error" role="alert">{e.message()}</p> })}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match flags.await {
                    Ok(list) => view! {
                        <ul class="flag-list">
                            {list.into_iter().map(|f| {
                                let id = format!("flag-{}", f.name);
                                let variants_id = format!("{id}-variants");
                                let enabled_id = format!("{id}-enabled");
                                let (name, enabled, spec) = (f.name.clone(), f.enabled, f.variants_spec());
                                let report_href = format!("/admin/experiments/{name}");
                                view! {
                                    <li class="flag" data-flag=f.name.clone()>
                                        <h2 id=id.clone()>{f.name.clone()}</h2>
                                        <p class={if enabled { "status in-stock" } else { "status sold-out" }} data-testid="flag-state">
                                            {if enabled { "On: running" } else { "Off: everyone gets the control" }}
                                        </p>
                                        <ActionForm action=update attr:class="flag-form" attr:aria-labelledby=id.clone()>
                                            <input type="hidden" name="name" value=name.clone() />
                                            <label for=enabled_id.clone() class="check">
                                                <input id=enabled_id.clone() type="checkbox" name="enabled" value="on" checked=enabled />
                                                " Enabled"
                                            </label>
                                            <label for=variants_id.clone()>"Variants"</label>
                                            <input id=variants_id.clone() name="variants" value=spec required maxlength="400" />
                                            <button type="submit" class="btn btn-primary">"Save"</button>
                                        </ActionForm>
                                        <p><a href=report_href>"Experiment report"</a></p>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => denied(e, "/admin"),
                }
            })}
        </Transition>
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn signed_pct(x: f64) -> String {
    format!("{:+.1} pts", x * 100.0)
}

#[component]
pub fn ExperimentPage() -> impl IntoView {
    let params = use_params_map();
    let report = Resource::new(move || params.read().get("flag").unwrap_or_default(), experiment_report);
    view! {
        <Meta name="robots" content="noindex" />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flag = params.read_untracked().get("flag").unwrap_or_default();
                match report.await {
                    Ok(r) => view! { <ReportView report=r /> }.into_any(),
                    Err(e) => denied(e, &format!("/admin/experiments/{flag}")),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ReportView(report: Report) -> impl IntoView {
    let name = report.flag.name.clone();
    let control = report.flag.control().to_string();
    let total: u64 = report.variants.iter().map(|v| v.subjects).sum();
    view! {
        <PageTitle text=format!("Experiment {name} · Admin") />
        <h1>"Experiment: " {name.clone()}</h1>
        <p class="lede">
            {if report.flag.enabled { "Running. " } else { "Stopped: everyone gets the control. " }}
            {format!("{total} subjects. Conversions count each subject once per step, attributed to the variant they were first shown; differences are against the control ({control}) with 95% confidence intervals (two-proportion z-test).")}
        </p>
        {report.srm_warning.then(|| view! {
            <p class="notice notice-error" role="alert" data-testid="srm-warning">
                {format!(
                    "Sample ratio mismatch: the split departs from the configured weights (chi-square {:.1}, p = {:.2e} < {SRM_ALPHA}). Assignment or exposure logging is off; do not trust these results until it is fixed.",
                    report.srm.map(|s| s.0).unwrap_or_default(),
                    report.srm.map(|s| s.1).unwrap_or_default(),
                )}
            </p>
        })}
        <div class="table-wrap">
            <table class="report" data-testid="experiment-report">
                <caption class="visually-hidden">"Conversion by variant"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Variant"</th>
                        <th scope="col" class="num">"Weight"</th>
                        <th scope="col" class="num">"Subjects"</th>
                        {Step::ALL.iter().map(|s| view! { <th scope="col" class="num">{s.label()}</th> }).collect_view()}
                    </tr>
                </thead>
                <tbody>
                    {report.variants.iter().map(|v| view! {
                        <tr data-variant=v.variant.clone()>
                            <th scope="row">{v.variant.clone()}</th>
                            <td class="num">{v.weight}</td>
                            <td class="num" data-testid="subjects">{v.subjects}</td>
                            {v.steps.iter().map(|s| view! {
                                <td class="num">
                                    <span data-testid=format!("rate-{}", s.step.as_str())>{pct(s.rate)}</span>
                                    <span class="muted">{format!(" ({})", s.conversions)}</span>
                                    {s.vs_control.map(|d| view! {
                                        <br />
                                        <span class={if d.ci_low > 0.0 { "diff up" } else if d.ci_high < 0.0 { "diff down" } else { "diff" }}>
                                            {format!("{} [{}, {}] p={:.3}", signed_pct(d.diff), signed_pct(d.ci_low), signed_pct(d.ci_high), d.p_value)}
                                        </span>
                                    })}
                                </td>
                            }).collect_view()}
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <p><a href="/admin">"All flags"</a></p>
    }
}

#[component]
pub(crate) fn AdminNav() -> impl IntoView {
    view! {
        <nav class="admin-nav" aria-label="Admin">
            <a href="/admin">"Feature flags"</a>
            <a href="/admin/products">"Prices and stock"</a>
            <a href="/admin/orders">"Orders and payments"</a>
            <a href="/admin/promotions">"Promotions"</a>
            <a href="/admin/shipping">"Shipping and tax"</a>
        </nav>
    }
}

/// What a payment state means, for people.
fn payment_label(state: &str) -> &'static str {
    match state {
        "captured" => "Paid",
        "authorized" => "Authorised, not captured yet",
        "capture_failed" => "Capture failed",
        _ => "Unknown",
    }
}

/// Orders, those whose payment needs attention first, with a way to capture again.
#[component]
pub fn OrdersAdminPage() -> impl IntoView {
    let retry = ServerAction::<RetryCapture>::new();
    let orders = Resource::new(move || retry.version().get(), |_| admin_orders());
    view! {
        <PageTitle text="Orders and payments · Admin" />
        <Meta name="robots" content="noindex" />
        <h1>"Orders and payments"</h1>
        <AdminNav />
        <p class="lede">
            "An order whose payment could not be captured stays placed (the payment is authorised) and is "
            "retried every minute; it is listed first until it is paid."
        </p>
        {move || retry.value().get().map(|r| match r {
            Ok(o) => view! {
                <p class="notice" role="status" data-testid="capture-result">
                    {format!("{}: {}.", o.reference, payment_label(&o.payment_state))}
                </p>
            }.into_any(),
            Err(e) => view! { <p class="notice notice-error" role="alert">{e.message()}</p> }.into_any(),
        })}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match orders.await {
                    Ok(list) if list.is_empty() => view! { <p>"No orders yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <div class="table-wrap">
                            <table class="report" data-testid="order-admin">
                                <thead>
                                    <tr>
                                        <th scope="col">"Order"</th>
                                        <th scope="col">"Email"</th>
                                        <th scope="col" class="num">"Total"</th>
                                        <th scope="col">"Payment"</th>
                                        <th scope="col">"Action"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list.into_iter().map(|o| {
                                        let needs_capture = o.payment_state != "captured";
                                        let label = format!("Capture the payment of {} again", o.reference);
                                        let id = o.id.clone();
                                        view! {
                                            <tr data-order=o.id.clone() data-payment=o.payment_state.clone()>
                                                <th scope="row">{o.reference.clone()}</th>
                                                <td>{o.email.clone()}</td>
                                                <td class="num">{format_cents(o.total_cents, o.currency)}</td>
                                                <td>
                                                    {payment_label(&o.payment_state)}
                                                    {(!o.payment_error.is_empty()).then(|| view! {
                                                        <span class="muted">{format!(" ({}; {} attempts)", o.payment_error, o.payment_attempts)}</span>
                                                    })}
                                                </td>
                                                <td>
                                                    {needs_capture.then(|| view! {
                                                        <ActionForm action=retry attr:aria-label=label>
                                                            <input type="hidden" name="id" value=id.clone() />
                                                            <button type="submit" class="btn btn-small">"Capture again"</button>
                                                        </ActionForm>
                                                    })}
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                    Err(e) => denied(e, "/admin/orders"),
                }
            })}
        </Transition>
    }
}

/// Price and stock edits. Without a search it lists the lowest stock first.
#[component]
pub fn ProductsAdminPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let update = ServerAction::<UpdateProduct>::new();
    let products = Resource::new(move || (q(), update.version().get()), |(q, _)| admin_products(q));
    view! {
        <PageTitle text="Prices and stock · Admin" />
        <Meta name="robots" content="noindex" />
        <h1>"Prices and stock"</h1>
        <AdminNav />
        <p class="lede">
            "Edits are written to the database at once and every instance shows them within a second. "
            "Leave a field blank to keep its value."
        </p>
        <form method="get" action="/admin/products" class="admin-search" role="search">
            <label for="admin-q">"Find a product"</label>
            <input id="admin-q" type="search" name="q" prop:value=q value=q maxlength="200" />
            <button type="submit" class="btn">"Search"</button>
        </form>
        {move || update.value().get().map(|r| match r {
            Ok(p) => view! {
                <p class="notice" role="status" data-testid="edit-saved">
                    {format!("Saved: {} now costs {} with {} in stock.", p.name, p.price(), p.stock)}
                </p>
            }.into_any(),
            Err(e) => view! { <p class="notice notice-error" role="alert">{e.message()}</p> }.into_any(),
        })}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match products.await {
                    Ok(list) if list.is_empty() => view! { <p>"No product matches."</p> }.into_any(),
                    Ok(list) => view! {
                        <div class="table-wrap">
                            <table class="report product-admin" data-testid="product-admin">
                                <thead>
                                    <tr>
                                        <th scope="col">"Product"</th>
                                        <th scope="col" class="num">"Price"</th>
                                        <th scope="col" class="num">"Stock"</th>
                                        <th scope="col">"Change"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list.into_iter().map(|p| {
                                        let price_id = format!("price-{}", p.sku);
                                        let stock_id = format!("stock-{}", p.sku);
                                        let label = format!("Change {}", p.label());
                                        let href = variant_href(&p.slug, &p.sku);
                                        let (sku, row_sku) = (p.sku.clone(), p.sku.clone());
                                        view! {
                                            <tr data-slug=p.slug.clone() data-sku=row_sku>
                                                <th scope="row">
                                                    <a href=href>{p.name.clone()}</a>
                                                    {(!p.options.is_empty()).then(|| view! { <span class="line-options">{p.options.clone()}</span> })}
                                                </th>
                                                <td class="num" data-testid="price">{format_cents(p.price_cents, p.currency)}</td>
                                                <td class="num" data-testid="stock">{p.stock}</td>
                                                <td>
                                                    <ActionForm action=update attr:class="flag-form" attr:aria-label=label>
                                                        <input type="hidden" name="sku" value=sku />
                                                        <label for=price_id.clone() class="visually-hidden">"New price"</label>
                                                        <input id=price_id name="price" inputmode="decimal" size="8" placeholder="price" pattern="[0-9]+([.][0-9]{1,2})?" />
                                                        <label for=stock_id.clone() class="visually-hidden">"New stock"</label>
                                                        <input id=stock_id name="stock" inputmode="numeric" size="6" placeholder="stock" pattern="[0-9]+" />
                                                        <button type="submit" class="btn btn-primary">"Save"</button>
                                                    </ActionForm>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                    Err(e) => denied(e, "/admin/products"),
                }
            })}
        </Transition>
    }
}
