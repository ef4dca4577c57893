// An allocator for long-lived asio operations: exact-size heap blocks.
#pragma once

#include <cstddef>
#include <new>

namespace tg::proxy {

/// Allocates each asio operation at its own size with operator new.
///
/// Why: asio's default (std::allocator, which asio replaces by its per-thread
/// recycling allocator) hands a new operation any cached block that is big
/// enough, typically one just freed by a finished write (~450 B). That is right
/// for short operations, but an idle connection's readiness wait lives for
/// minutes: through the recycled block it would hold ~450 B instead of ~100 B.
/// Bind this allocator (asio::bind_allocator) to handlers of waits that may last.
template <typename T>
struct ExactAllocator {
  using value_type = T;
  ExactAllocator() noexcept = default;
  template <typename U>
  ExactAllocator(const ExactAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
  template <typename U>
  bool operator==(const ExactAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace tg::proxy
