import type { Router } from 'vue-router'
import { useSessionStoreOutside } from '@/stores/session'

let restored = false

export function registerNavigationGuard(router: Router) {
  router.beforeEach(async (to) => {
    const session = useSessionStoreOutside()
    if (!session.user && !restored) {
      restored = true
      try {
        await session.restore()
      } catch {
        /* the hub is unreachable: the login page says so */
      }
    }
    if (to.meta.public) return session.user && to.name === 'login' ? { path: '/' } : true
    if (!session.user) return { name: 'login', query: to.fullPath !== '/' ? { redirect: to.fullPath } : {} }
    return true
  })
}
