use super::cart::AddToCartButton;
use crate::model::ProductCard;
use leptos::prelude::*;

/// A product in a listing: picture, name, price, stock and an add-to-cart form.
#[component]
pub fn ProductCardView(product: ProductCard) -> impl IntoView {
    let href = format!("/p/{}", product.slug);
    let status = product.stock_status();
    let price = product.price();
    view! {
        <li class="card">
            <a class="card-link" href=href.clone()>
                <img
                    src=product.image.clone()
                    alt=product.name.clone()
                    width="400"
                    height="400"
                    loading="lazy"
                    decoding="async"
                />
                <span class="card-name">{product.name.clone()}</span>
            </a>
            <p class="price">{price}</p>
            <p class=status.class()>{status.label()}</p>
            <AddToCartButton product=product.clone() />
        </li>
    }
}

/// A grid of product cards.
#[component]
pub fn ProductGrid(products: Vec<ProductCard>, #[prop(optional, into)] label: Option<String>) -> impl IntoView {
    view! {
        <ul class="grid" aria-label=label>
            {products.into_iter().map(|p| view! { <ProductCardView product=p /> }).collect_view()}
        </ul>
    }
}
